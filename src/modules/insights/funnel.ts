import { ApiError } from '../../errors.js';
import { EVENT_TYPE_PATTERN } from '../collect/event-rules.js';

/** A funnel step: an event type, or a page view of one path (`page_view:/pricing`). */
export interface FunnelStep {
  /** As written in `steps`, which the report repeats. */
  step: string;
  type: string;
  /** For a `page_view:<path>` step: the path the page view must have. */
  path: string | null;
}

/** One event of a visitor, as the funnel reads it. */
export interface FunnelEvent {
  type: string;
  /** The path of its url (no query), or null. */
  path: string | null;
  /** ms since the epoch */
  at: number;
}

export interface FunnelStepReport {
  step: string;
  visitors: number;
  /** Of step 1's visitors, 0–1 to 4 decimals. */
  conversionRate: number;
  /** Visitors lost since the previous step (0 for step 1). */
  dropOff: number;
}

export const MIN_STEPS = 2;
export const MAX_STEPS = 8;
const TYPE = new RegExp(EVENT_TYPE_PATTERN);
const MINUTE_MS = 60_000;
const UNIT_MS = { m: MINUTE_MS, h: 60 * MINUTE_MS, d: 1440 * MINUTE_MS } as const;
export const MIN_WINDOW_MS = 10 * MINUTE_MS;
export const MAX_WINDOW_MS = 30 * UNIT_MS.d;

/** `steps`: 2–8 comma-separated event types, each maybe `page_view:<path>`. */
export function parseFunnelSteps(text: string): FunnelStep[] {
  const parts = text.split(',').map((part) => part.trim());
  if (parts.length < MIN_STEPS || parts.length > MAX_STEPS) throw ApiError.validation('steps', `must name ${MIN_STEPS} to ${MAX_STEPS} steps, comma-separated`);
  return parts.map((step) => {
    const colon = step.indexOf(':');
    const type = colon === -1 ? step : step.slice(0, colon);
    const path = colon === -1 ? null : step.slice(colon + 1);
    if (!TYPE.test(type)) throw ApiError.validation('steps', `has "${step}": a step is an event type (lower-case letters, digits and _) or page_view:<path>`);
    if (path !== null && (type !== 'page_view' || !path.startsWith('/'))) {
      throw ApiError.validation('steps', `has "${step}": only page_view takes a path, which starts with /`);
    }
    return { step, type, path };
  });
}

/** `window`: a number and a unit (m, h, d), from 10m to 30d. */
export function parseFunnelWindow(text: string): number {
  const match = /^([1-9][0-9]{0,5})([mhd])$/.exec(text);
  const ms = match ? Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS] : NaN;
  if (!(ms >= MIN_WINDOW_MS && ms <= MAX_WINDOW_MS)) throw ApiError.validation('window', 'must be a duration from 10m to 30d, such as 30m, 12h or 7d');
  return ms;
}

const matches = (step: FunnelStep, event: FunnelEvent) => event.type === step.type && (step.path === null || event.path === step.path);

/**
 * How far one visitor goes: the number of steps reached (0 when it never did step 1). Its window
 * starts at its first step-1 event; each later step is the first event of that step after the
 * previous one was reached, within the window. `events` are the visitor's events in the range, in
 * order (time, then id).
 */
export function stepsReached(events: readonly FunnelEvent[], steps: readonly FunnelStep[], windowMs: number): number {
  const first = steps[0];
  const start = first ? events.findIndex((event) => matches(first, event)) : -1;
  if (start === -1) return 0;
  const end = (events[start]?.at ?? 0) + windowMs;
  let reached = 1;
  for (let i = start + 1; i < events.length && reached < steps.length; i++) {
    const event = events[i];
    const next = steps[reached];
    if (!event || !next) break;
    if (event.at > end) break;
    if (matches(next, event)) reached++;
  }
  return reached;
}

/** The report of the visitors reaching each step (`reached[k]`: visitors that reached step k+1). */
export function funnelReport(steps: readonly FunnelStep[], reached: readonly number[]): FunnelStepReport[] {
  const entered = reached[0] ?? 0;
  return steps.map((step, index) => {
    const visitors = reached[index] ?? 0;
    return {
      step: step.step,
      visitors,
      conversionRate: entered === 0 ? 0 : Math.round((visitors / entered) * 1e4) / 1e4,
      dropOff: index === 0 ? 0 : (reached[index - 1] ?? 0) - visitors,
    };
  });
}

/** Counts the visitors reaching each step over visitors' event lists (each in order). */
export function funnelOf(visitors: Iterable<readonly FunnelEvent[]>, steps: readonly FunnelStep[], windowMs: number): FunnelStepReport[] {
  const reached = steps.map(() => 0);
  for (const events of visitors) {
    const count = stepsReached(events, steps, windowMs);
    for (let k = 0; k < count; k++) reached[k] = (reached[k] ?? 0) + 1;
  }
  return funnelReport(steps, reached);
}
