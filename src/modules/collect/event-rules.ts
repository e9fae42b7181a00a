/**
 * What the collector accepts in a batch. The collector's schemas and checks and the tracker (bundled
 * for the browser from tracker/src) both read these, so the tracker can drop a bad event before
 * sending instead of getting the whole batch refused: no dependencies here, browser-safe code only.
 */

/** Limits a browser batch must respect. */
export const LIMITS = {
  bodyBytes: 64 * 1024,
  events: 100,
  propertiesKeys: 50,
  propertiesBytes: 4 * 1024,
  /** How deep JSON may nest inside an event field. */
  depth: 16,
  url: 2048,
  title: 1024,
  value: 1e12,
  /** How far ahead of the server a client clock may be before its timestamp is replaced. */
  futureSkewMs: 5 * 60 * 1000,
} as const;

export const EVENT_TYPE_PATTERN = '^[a-z][a-z0-9_]{0,63}$';
export const CURRENCY_PATTERN = '^[A-Z]{3}$';

/** The reasons given for a refusal, by the collector (`x-error-message`) and the tracker (its warning) alike. */
export const RULE_MESSAGES = {
  type: 'must be lower-case letters, digits and underscores, starting with a letter (at most 64)',
  currency: 'must be three upper-case letters (ISO 4217)',
} as const;

/** A JSON value PostgreSQL can store: no NUL characters in its strings, at most LIMITS.depth levels deep. */
export function problemInStrings(value: unknown, depth = 0): string | null {
  if (typeof value === 'string') return value.includes('\u0000') ? 'must not contain NUL characters' : null;
  if (depth > LIMITS.depth) return 'is nested too deeply';
  if (Array.isArray(value)) {
    for (const item of value) {
      const problem = problemInStrings(item, depth + 1);
      if (problem) return problem;
    }
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const problem = problemInStrings(key, depth + 1) ?? problemInStrings(item, depth + 1);
      if (problem) return problem;
    }
  }
  return null;
}
