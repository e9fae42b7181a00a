import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { breakdownRows, type CountedRow } from '../src/modules/insights/breakdown-report.js';

const row = (value: string | null, metrics: Partial<Omit<CountedRow, 'value' | 'conversionValue'>>, values: Record<string, number> = {}): CountedRow => ({
  value,
  events: 0,
  visitors: 0,
  sessions: 0,
  pageViews: 0,
  conversions: 0,
  ...metrics,
  conversionValue: new Map(Object.entries(values)),
});

const counted = [
  row('/a', { events: 10, visitors: 5, sessions: 6, pageViews: 8, conversions: 2 }, { EUR: 0.333, USD: 1 }),
  row('/b', { events: 20, visitors: 5, sessions: 5, pageViews: 18, conversions: 1 }, { EUR: 0.333 }),
  row(null, { events: 3, visitors: 1, sessions: 1, pageViews: 3 }),
  row('/c', { events: 5, visitors: 7, sessions: 7, pageViews: 2, conversions: 3 }, { EUR: 0.333, USD: 100 }),
];

describe('breakdown rows, by hand', () => {
  it('sorts by visitors, ties by value, the unknown value last; rounds each currency to its total', () => {
    const { rows, hasMore } = breakdownRows(counted, 'visitors', 100);
    expect(hasMore).toBe(false);
    expect(rows.map((r) => r.value)).toEqual(['/c', '/a', '/b', null]);
    // Three times 0.333 EUR is 1.00 rounded: rounded alone each would be 0.33 (0.99 in all), so the
    // first counted row takes the missing cent and the rows add up to the total.
    expect(rows.map((r) => r.conversionValue)).toEqual([
      [{ currency: 'EUR', value: 0.33 }, { currency: 'USD', value: 100 }],
      [{ currency: 'EUR', value: 0.34 }, { currency: 'USD', value: 1 }],
      [{ currency: 'EUR', value: 0.33 }],
      [],
    ]);
    expect(rows[1]).toMatchObject({ events: 10, visitors: 5, sessions: 6, pageViews: 8, conversions: 2 });
  });

  it('sorts by the largest currency for conversionValue, and cuts at limit', () => {
    // USD totals 101, EUR 1.00: rows compare in USD.
    expect(breakdownRows(counted, 'conversionValue', 4).rows.map((r) => r.value)).toEqual(['/c', '/a', '/b', null]);
    const cut = breakdownRows(counted, 'events', 2);
    expect(cut.rows.map((r) => r.value)).toEqual(['/b', '/a']);
    expect(cut.hasMore).toBe(true);
    expect(breakdownRows(counted, 'conversions', 1).rows.map((r) => r.value)).toEqual(['/c']);
  });
});

describe('breakdown invariants (fast-check)', () => {
  const countedRow = fc
    .record({
      value: fc.option(fc.string({ maxLength: 3 }), { nil: null }),
      events: fc.nat(1000),
      visitors: fc.nat(100),
      sessions: fc.nat(100),
      pageViews: fc.nat(1000),
      conversions: fc.nat(50),
      eur: fc.option(fc.integer({ min: 0, max: 10_000_000 }), { nil: null }),
      usd: fc.option(fc.integer({ min: 0, max: 10_000_000 }), { nil: null }),
    })
    .map(({ eur, usd, ...metrics }) => row(metrics.value, metrics, { ...(eur === null ? {} : { EUR: eur / 1000 }), ...(usd === null ? {} : { USD: usd / 1000 }) }));

  it('keeps every row when not cut, and every currency adds up to its total rounded to cents', () => {
    fc.assert(
      fc.property(fc.uniqueArray(countedRow, { selector: (r) => r.value, maxLength: 30 }), fc.constantFrom('visitors', 'events', 'conversions', 'conversionValue' as const), (rows, sort) => {
        const report = breakdownRows(rows, sort, 1000);
        for (const metric of ['events', 'pageViews', 'conversions'] as const) {
          expect(report.rows.reduce((sum, r) => sum + r[metric], 0)).toBe(rows.reduce((sum, r) => sum + r[metric], 0));
        }
        for (const currency of ['EUR', 'USD']) {
          const total = rows.reduce((sum, r) => sum + (r.conversionValue.get(currency) ?? 0), 0);
          const shown = report.rows.reduce((sum, r) => sum + (r.conversionValue.find((v) => v.currency === currency)?.value ?? 0), 0);
          expect(Math.round(shown * 100)).toBe(Math.round(total * 100 + 1e-7));
        }
        const keys = report.rows.map((r) => (sort === 'conversionValue' ? null : r[sort]));
        if (sort !== 'conversionValue') expect(keys).toEqual([...keys].sort((a, b) => (b ?? 0) - (a ?? 0)));
      }),
    );
  });
});
