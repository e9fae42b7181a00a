/**
 * Wall-clock arithmetic in IANA time zones with nothing but Intl: the one question the Events API
 * asks ("when does this calendar day start there?") does not justify a date library.
 */

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Formatters are costly to build (a quarter of a millisecond) and few zones are in use: kept, bounded. */
const formatters = new Map<string, Intl.DateTimeFormat>();
const FORMATTERS_MAX = 1000;

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  const known = formatters.get(timeZone);
  if (known) return known;
  const formatter = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  });
  if (formatters.size >= FORMATTERS_MAX) formatters.clear();
  formatters.set(timeZone, formatter);
  return formatter;
}

/** Date.UTC without its mapping of years 0-99 to the 1900s. */
function utc(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  return date.getTime();
}

/** How far the zone's wall clock is ahead of UTC at `instant`, in milliseconds. */
function offsetAt(instant: number, timeZone: string): number {
  const parts = new Map(formatterFor(timeZone).formatToParts(new Date(instant)).map((part) => [part.type, Number(part.value)]));
  const wall = utc(parts.get('year') ?? 0, parts.get('month') ?? 1, parts.get('day') ?? 1, parts.get('hour') ?? 0, parts.get('minute') ?? 0, parts.get('second') ?? 0);
  return wall - Math.floor(instant / 1000) * 1000;
}

/** Whether `value` is a date without a time, such as 2026-11-25. */
export function isDateOnly(value: string): boolean {
  return DATE_ONLY.test(value);
}

/**
 * The instant a calendar day (YYYY-MM-DD) starts in `timeZone`: its midnight, or, where the zone
 * skips midnight (a DST change at 00:00, as in America/Santiago), the first instant of the day.
 * A skipped wall time is read with the offset in force before the change, as PostgreSQL does, so
 * these bounds fall exactly on the buckets its date_trunc draws. Undefined for a day that does
 * not exist (2026-02-31).
 */
export function startOfDay(value: string, timeZone: string): Date | undefined {
  const match = DATE_ONLY.exec(value);
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const wall = utc(year, month, day);
  const check = new Date(wall);
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) return undefined;
  // The wall time seen from the offset at that moment, then corrected once for an offset change in between.
  const first = offsetAt(wall, timeZone);
  const second = offsetAt(wall - first, timeZone);
  if (first === second) return new Date(wall - first);
  if (offsetAt(wall - second, timeZone) === second) return new Date(wall - second);
  // Neither offset reads back as that wall time: it was skipped. The offset before the change is the smaller one.
  return new Date(wall - Math.min(first, second));
}
