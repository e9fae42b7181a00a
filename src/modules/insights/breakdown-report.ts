import { apportion } from '../../lib/apportion.js';
import { byDimensionValue, type CurrencyValue } from './report-values.js';

/** The dimensions of a breakdown (contracts/insights.md), each a value of an event or of its session. */
export const BREAKDOWN_DIMENSIONS = ['page', 'entry_page', 'referrer', 'source', 'medium', 'campaign', 'channel', 'device_type', 'browser', 'os', 'country', 'type'] as const;
export type BreakdownDimension = (typeof BREAKDOWN_DIMENSIONS)[number];

export const BREAKDOWN_SORTS = ['visitors', 'events', 'conversions', 'conversionValue'] as const;
export type BreakdownSort = (typeof BREAKDOWN_SORTS)[number];

/** The metrics of every insights row and total. */
export interface Metrics {
  events: number;
  visitors: number;
  sessions: number;
  pageViews: number;
  conversions: number;
  conversionValue: CurrencyValue[];
}

/** A dimension value's metrics as counted, its values per currency not yet rounded. */
export interface CountedRow extends Omit<Metrics, 'conversionValue'> {
  value: string | null;
  conversionValue: ReadonlyMap<string, number>;
}

export interface BreakdownRows {
  rows: (Metrics & { value: string | null })[];
  hasMore: boolean;
}

/**
 * Sorts, rounds and cuts a breakdown's rows. Descending by `sort`, ties by value ascending (the
 * unknown value last). `conversionValue` sorts by the currency with the largest total, which
 * compares like with like. Each currency's row values are rounded to cents so that all rows,
 * before the cut at `limit`, add up exactly to that currency's total rounded (see apportion).
 */
export function breakdownRows(counted: readonly CountedRow[], sort: BreakdownSort, limit: number): BreakdownRows {
  const currencies = [...new Set(counted.flatMap((row) => [...row.conversionValue.keys()]))].sort();
  const totals = new Map(currencies.map((currency) => [currency, counted.reduce((sum, row) => sum + (row.conversionValue.get(currency) ?? 0), 0)]));
  const rounded = new Map(currencies.map((currency) => [currency, apportion(counted.map((row) => row.conversionValue.get(currency) ?? 0), 2)]));
  const main = currencies.reduce<string | undefined>((best, currency) => (best === undefined || (totals.get(currency) ?? 0) > (totals.get(best) ?? 0) ? currency : best), undefined);
  const key = (row: CountedRow): number => (sort === 'conversionValue' ? (main === undefined ? 0 : (row.conversionValue.get(main) ?? 0)) : row[sort]);
  const rows = counted
    .map((row, index) => ({ row, index }))
    .sort((a, b) => key(b.row) - key(a.row) || byDimensionValue(a.row.value, b.row.value))
    .map(({ row, index }) => ({
      value: row.value,
      events: row.events,
      visitors: row.visitors,
      sessions: row.sessions,
      pageViews: row.pageViews,
      conversions: row.conversions,
      conversionValue: currencies.filter((currency) => row.conversionValue.has(currency)).map((currency) => ({ currency, value: rounded.get(currency)?.[index] ?? 0 })),
    }));
  return { rows: rows.slice(0, limit), hasMore: rows.length > limit };
}
