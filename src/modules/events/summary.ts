import { DistinctIds } from './distinct-ids.js';
import type { SummaryGroupRow, SummaryRows } from './repository.js';
import { CONVERSION_TYPES } from './schemas.js';

const CONVERSIONS: ReadonlySet<string> = new Set(CONVERSION_TYPES);
/** Digits after the point of events.value (numeric(20,6)): sums stay exact as integers of this scale. */
const SCALE = 6;

/** A decimal string as an integer of SCALE digits after the point ("10.25" → 10250000n). */
function toScaled(decimal: string): bigint {
  const negative = decimal.startsWith('-');
  const [whole = '0', fraction = ''] = (negative ? decimal.slice(1) : decimal).split('.');
  const scaled = BigInt(whole + fraction.padEnd(SCALE, '0').slice(0, SCALE));
  return negative ? -scaled : scaled;
}

function fromScaled(value: bigint): string {
  const digits = (value < 0n ? -value : value).toString().padStart(SCALE + 1, '0');
  return `${value < 0n ? '-' : ''}${digits.slice(0, -SCALE)}.${digits.slice(-SCALE)}`;
}

/**
 * Counts a summary from its bucket groups (EventsRepository.summaryGroups): distinct visitors per
 * bucket and over the range, distinct sessions, totals, value sums per currency. Answers undefined
 * when a bucket holds more than `perBucketLimit` events (its read was cut short): the caller then
 * asks the database to aggregate. Orders ties by code point, as the database does with "C".
 */
export function summariseGroups(groups: SummaryGroupRow[], perBucketLimit: number): SummaryRows | undefined {
  const totals = { events: 0, visitors: 0, sessions: 0, page_views: 0, conversions: 0 };
  const series: SummaryRows['series'] = [];
  const byType = new Map<string, number>();
  const values = new Map<string, bigint>();
  const events = groups.reduce((sum, group) => sum + (group.events ?? 0), 0);
  // Visitors are marked with their latest bucket: one look-up counts them for the bucket and the range.
  const visitors = new DistinctIds(events);
  const sessions = new DistinctIds(events);

  let bucket: SummaryRows['series'][number] | undefined;
  let bucketStart = NaN;
  for (const group of groups) {
    if (bucket === undefined || group.start !== bucketStart) {
      bucketStart = group.start;
      bucket = { start: new Date(group.start), events: 0, visitors: 0, conversions: 0 };
      series.push(bucket);
    }
    if (group.type === null || group.events === null) continue;
    const index = series.length - 1;
    bucket.events += group.events;
    if (bucket.events > perBucketLimit) return undefined;
    totals.events += group.events;
    byType.set(group.type, (byType.get(group.type) ?? 0) + group.events);
    if (group.type === 'page_view') totals.page_views += group.events;
    if (CONVERSIONS.has(group.type)) {
      bucket.conversions += group.events;
      totals.conversions += group.events;
      if (group.currency !== null && group.value !== null) values.set(group.currency, (values.get(group.currency) ?? 0n) + toScaled(group.value));
    }
    if (group.visitors !== null) bucket.visitors += visitors.addAll(group.visitors, index);
    if (group.sessions !== null) sessions.addAll(group.sessions, 0);
  }

  totals.visitors = visitors.size;
  totals.sessions = sessions.size;
  const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return {
    totals,
    values: [...values.keys()].sort(byCodePoint).map((currency) => ({ currency, value: fromScaled(values.get(currency) ?? 0n) })),
    byType: [...byType].map(([type, count]) => ({ type, count })).sort((a, b) => b.count - a.count || byCodePoint(a.type, b.type)),
    series,
  };
}
