import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { apportion } from '../src/lib/apportion.js';
import { ATTRIBUTION_MODELS, attributeConversions, creditOf, type Conversion, type ModelOptions, type Touchpoint } from '../src/modules/insights/attribution-models.js';

const DAY = 86_400_000;
const day = (n: number) => Date.UTC(2026, 10, 1) + n * DAY;
const session = (startDay: number, channel: string): Touchpoint => ({ startedAt: day(startDay), key: channel, channel });
const options = (model: ModelOptions['model']): ModelOptions => ({ model, lookbackDays: 30, halfLifeDays: 7, directKey: 'Direct' });

// A purchase of 100 EUR on day 10 after three visits: organic search on day 1, an ad on day 5,
// typed in on day 9 (its own session). A 40-day-old visit is outside the 30-day look-back.
const purchase: Conversion = {
  at: day(10),
  value: 100,
  currency: 'EUR',
  sessions: [session(5, 'Paid Search'), session(9, 'Direct'), session(-30, 'Email'), session(1, 'Organic Search')],
};
// A lead without value whose only visit is too old: no touchpoint, so Direct.
const lead: Conversion = { at: day(12), value: null, currency: null, sessions: [session(-29, 'Email')] };

/** A conversion's credit as a plain object, for toEqual. */
const asRecord = (credit: Map<string | null, number>): Record<string, number> => Object.fromEntries([...credit].map(([key, share]) => [String(key), share]));

describe('attribution models, by hand', () => {
  it('credits one conversion as each model says', () => {
    const credit = (model: ModelOptions['model']) => asRecord(creditOf(purchase, options(model)));
    expect(credit('last_touch')).toEqual({ Direct: 1 });
    expect(credit('last_non_direct')).toEqual({ 'Paid Search': 1 });
    expect(credit('first_touch')).toEqual({ 'Organic Search': 1 });
    const linear = credit('linear');
    expect(Object.keys(linear).sort()).toEqual(['Direct', 'Organic Search', 'Paid Search']);
    for (const share of Object.values(linear)) expect(share).toBeCloseTo(1 / 3, 12);
    // 2^(-age/7) for ages 9, 5 and 1 days: 0.410168, 0.609507, 0.905724 of 1.925398.
    const decay = credit('time_decay');
    expect(decay['Organic Search']).toBeCloseTo(0.21303, 6);
    expect(decay['Paid Search']).toBeCloseTo(0.316561, 6);
    expect(decay.Direct).toBeCloseTo(0.470408, 6);
  });

  it('gives a conversion without touchpoints to Direct, and last_non_direct falls back to Direct', () => {
    expect(asRecord(creditOf(lead, options('linear')))).toEqual({ Direct: 1 });
    const onlyDirect: Conversion = { ...purchase, sessions: [session(2, 'Direct'), session(8, 'Direct')] };
    expect(asRecord(creditOf(onlyDirect, options('last_non_direct')))).toEqual({ Direct: 1 });
  });

  it('reports rows that add up exactly to the totals after rounding', () => {
    expect(attributeConversions([purchase, lead], options('linear'))).toEqual({
      rows: [
        { value: 'Direct', conversions: 1.3333, conversionValue: [{ currency: 'EUR', value: 33.33 }] },
        // Three thirds: the first one in takes the last ten-thousandth and the last cent.
        { value: 'Organic Search', conversions: 0.3334, conversionValue: [{ currency: 'EUR', value: 33.34 }] },
        { value: 'Paid Search', conversions: 0.3333, conversionValue: [{ currency: 'EUR', value: 33.33 }] },
      ],
      totals: { conversions: 2, conversionValue: [{ currency: 'EUR', value: 100 }] },
    });
    expect(attributeConversions([purchase], options('time_decay'))).toEqual({
      rows: [
        { value: 'Direct', conversions: 0.4704, conversionValue: [{ currency: 'EUR', value: 47.04 }] },
        { value: 'Paid Search', conversions: 0.3166, conversionValue: [{ currency: 'EUR', value: 31.66 }] },
        { value: 'Organic Search', conversions: 0.213, conversionValue: [{ currency: 'EUR', value: 21.3 }] },
      ],
      totals: { conversions: 1, conversionValue: [{ currency: 'EUR', value: 100 }] },
    });
  });
});

const CHANNELS = ['Direct', 'Organic Search', 'Paid Search', 'Email', 'Referral'];
const touchpoint = fc.record({
  startedAt: fc.integer({ min: day(-60), max: day(10) }),
  channel: fc.constantFrom(...CHANNELS),
}).map((t): Touchpoint => ({ ...t, key: t.channel }));
const conversion = fc.record({
  at: fc.integer({ min: day(0), max: day(10) }),
  value: fc.option(fc.integer({ min: 0, max: 10_000_000 }).map((cents) => cents / 100), { nil: null }),
  currency: fc.constantFrom('EUR', 'USD', 'BDT'),
  sessions: fc.array(touchpoint, { maxLength: 8 }),
}).map((c): Conversion => ({ ...c, currency: c.value === null ? null : c.currency }));
const modelOptions = fc.record({
  model: fc.constantFrom(...ATTRIBUTION_MODELS),
  lookbackDays: fc.integer({ min: 1, max: 90 }),
  halfLifeDays: fc.integer({ min: 1, max: 30 }),
}).map((o): ModelOptions => ({ ...o, directKey: 'Direct' }));

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

describe('attribution invariants (fast-check)', () => {
  it('each conversion distributes exactly 1.0', () => {
    fc.assert(
      fc.property(conversion, modelOptions, (c, o) => {
        const shares = [...creditOf(c, o).values()];
        expect(sum(shares)).toBeCloseTo(1, 9);
        for (const share of shares) expect(share).toBeGreaterThan(0);
      }),
    );
  });

  it('rows sum to the totals: credit to the number of conversions, each currency to its value', () => {
    fc.assert(
      fc.property(fc.array(conversion, { maxLength: 30 }), modelOptions, (conversions, o) => {
        const report = attributeConversions(conversions, o);
        expect(report.totals.conversions).toBe(conversions.length);
        expect(Math.round(sum(report.rows.map((row) => row.conversions)) * 1e4)).toBe(conversions.length * 1e4);
        for (const { currency, value } of report.totals.conversionValue) {
          const expected = sum(conversions.filter((c) => c.currency === currency).map((c) => c.value ?? 0));
          expect(Math.round(value * 100)).toBe(Math.round(expected * 100));
          const rows = report.rows.flatMap((row) => row.conversionValue.filter((v) => v.currency === currency).map((v) => v.value));
          expect(Math.round(sum(rows) * 100)).toBe(Math.round(value * 100));
        }
        const sorted = [...report.rows].sort((a, b) => b.conversions - a.conversions);
        expect(report.rows.map((row) => row.conversions)).toEqual(sorted.map((row) => row.conversions));
      }),
    );
  });
});

describe('apportion', () => {
  it('moves each amount by less than a unit and keeps the rounded sum', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { maxLength: 40 }), fc.integer({ min: 0, max: 4 }), (amounts, decimals) => {
        const rounded = apportion(amounts, decimals);
        const scale = 10 ** decimals;
        // (+ 0: a sum of -0.00001 rounds to -0, which is 0.)
        expect(Math.round(sum(rounded) * scale) + 0).toBe(Math.round(sum(amounts) * scale + 1e-7) + 0);
        rounded.forEach((value, index) => expect(Math.abs(value - (amounts[index] ?? 0))).toBeLessThan(1 / scale + 1e-9));
      }),
    );
  });
});
