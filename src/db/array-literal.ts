/** What a column array of the batch statement holds. */
export type ArrayItem = string | number | boolean | null;

const NEEDS_ESCAPE = /["\\]/;
const ESCAPED = /["\\]/g;

/**
 * A PostgreSQL array literal (`{"a",NULL,"b"}`), read by a `$n::text[]` parameter or any other
 * one-dimensional array cast (uuid, numeric, boolean, timestamptz, jsonb). The same text the pg
 * driver builds for a JS array, in one pass: the driver runs two regular-expression replaces on
 * every element, and on the collector's path almost no element has a quote or a backslash to
 * escape (measured: the driver's escaping was the busiest frame of the batch write).
 */
export function arrayLiteral(items: readonly ArrayItem[]): string {
  let literal = '{';
  for (let i = 0; i < items.length; i++) {
    if (i > 0) literal += ',';
    const item = items[i];
    if (item === null || item === undefined) literal += 'NULL';
    else if (typeof item === 'string') literal += NEEDS_ESCAPE.test(item) ? `"${item.replace(ESCAPED, '\\$&')}"` : `"${item}"`;
    else if (typeof item === 'boolean') literal += item ? 't' : 'f';
    else literal += `"${String(item)}"`;
  }
  return `${literal}}`;
}
