import { ApiError, type ErrorDetail } from '../../errors.js';
import { LIMITS, problemInStrings } from './event-rules.js';

/** What every event path checks beyond its schema, browser and server alike. */
interface CheckedEvent {
  properties?: Record<string, unknown> | undefined;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Replaces lone UTF-16 surrogates (valid in JSON, refused by PostgreSQL) with U+FFFD. */
export function wellFormedText(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD');
}

export function wellFormedOrNull(text: string | undefined): string | null {
  return text === undefined ? null : wellFormedText(text);
}

export function wellFormed<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (_key, item: unknown) => (typeof item === 'string' ? wellFormedText(item) : item))) as T;
}

/** Checks the schema cannot express: string contents and the byte size of properties. */
export function validateEvents(events: readonly CheckedEvent[]): void {
  const details: ErrorDetail[] = [];
  events.forEach((event, index) => {
    for (const [field, value] of Object.entries(event)) {
      const problem = problemInStrings(value);
      if (problem) details.push({ field: `events.${index}.${field}`, message: `events.${index}.${field} ${problem}` });
    }
    if (event.properties && Buffer.byteLength(JSON.stringify(event.properties)) > LIMITS.propertiesBytes) {
      details.push({
        field: `events.${index}.properties`,
        message: `events.${index}.properties must be at most ${LIMITS.propertiesBytes} bytes of JSON`,
      });
    }
  });
  if (details.length > 0) throw new ApiError(400, 'VALIDATION_ERROR', details[0]?.message ?? 'Invalid events', details);
}
