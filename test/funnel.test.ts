import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ApiError } from '../src/errors.js';
import { funnelOf, parseFunnelSteps, parseFunnelWindow, stepsReached, type FunnelEvent, type FunnelStep } from '../src/modules/insights/funnel.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const t0 = Date.UTC(2026, 10, 2, 9);
const view = (path: string, at: number): FunnelEvent => ({ type: 'page_view', path, at: t0 + at });
const event = (type: string, at: number): FunnelEvent => ({ type, path: null, at: t0 + at });

describe('funnel, by hand', () => {
  const steps = parseFunnelSteps('page_view:/pricing,sign_up,purchase');
  const visitors: Record<string, FunnelEvent[]> = {
    // all three steps, in order, within the day
    a: [view('/', 0), view('/pricing', 5 * MINUTE), event('sign_up', 20 * MINUTE), event('purchase', 2 * HOUR)],
    // bought before signing up: the purchase does not count for step 3
    b: [view('/pricing', 0), event('purchase', 10 * MINUTE), event('sign_up', 30 * MINUTE)],
    // signed up before seeing the pricing page: step 1 only
    c: [event('sign_up', 0), view('/pricing', MINUTE)],
    // signed up a day and an hour after step 1: outside the 1-day window
    d: [view('/pricing', 0), event('sign_up', 25 * HOUR)],
    // never on the pricing page
    e: [view('/', 0), event('sign_up', MINUTE)],
    // the window starts at the first step-1 event, not at a later one that would fit
    f: [view('/pricing', 0), view('/pricing', 2 * DAY), event('sign_up', 2 * DAY + HOUR), event('purchase', 2 * DAY + 2 * HOUR)],
  };

  it('counts the visitors reaching each step, in order and within the window from their first step', () => {
    const reached = Object.fromEntries(Object.entries(visitors).map(([name, events]) => [name, stepsReached(events, steps, DAY)]));
    expect(reached).toEqual({ a: 3, b: 2, c: 1, d: 1, e: 0, f: 1 });
    expect(funnelOf(Object.values(visitors), steps, DAY)).toEqual([
      { step: 'page_view:/pricing', visitors: 5, conversionRate: 1, dropOff: 0 },
      { step: 'sign_up', visitors: 2, conversionRate: 0.4, dropOff: 3 },
      { step: 'purchase', visitors: 1, conversionRate: 0.2, dropOff: 1 },
    ]);
  });

  it('widens with the window: d and f reach further with 3 days', () => {
    expect(Object.values(visitors).map((events) => stepsReached(events, steps, 3 * DAY))).toEqual([3, 2, 1, 2, 0, 3]);
  });

  it('reports no conversion rate without visitors at step 1', () => {
    expect(funnelOf([[event('sign_up', 0)]], steps, DAY).map((step) => step.conversionRate)).toEqual([0, 0, 0]);
  });
});

describe('funnel parameters', () => {
  const refused = (call: () => unknown, field: string) => {
    try {
      call();
    } catch (error) {
      expect(error).toBeInstanceOf(ApiError);
      expect((error as ApiError).details?.[0]?.field).toBe(field);
      expect((error as ApiError).code).toBe('VALIDATION_ERROR');
      return;
    }
    throw new Error('not refused');
  };

  it('takes 2 to 8 event types, a page view maybe with its path', () => {
    expect(parseFunnelSteps('page_view:/pricing, sign_up')).toEqual([
      { step: 'page_view:/pricing', type: 'page_view', path: '/pricing' },
      { step: 'sign_up', type: 'sign_up', path: null },
    ]);
    expect(parseFunnelSteps(Array.from({ length: 8 }, (_, i) => `step_${i}`).join(','))).toHaveLength(8);
    for (const bad of ['purchase', Array.from({ length: 9 }, (_, i) => `s${i}`).join(','), 'page_view,Purchase', 'purchase:/x,lead', 'page_view:pricing,lead', 'a,,b']) {
      refused(() => parseFunnelSteps(bad), 'steps');
    }
  });

  it('takes a window from 10m to 30d', () => {
    expect([parseFunnelWindow('10m'), parseFunnelWindow('12h'), parseFunnelWindow('30d'), parseFunnelWindow('720h')]).toEqual([10 * MINUTE, 12 * HOUR, 30 * DAY, 30 * DAY]);
    for (const bad of ['9m', '31d', '1w', '0d', '1.5h', 'd', '', '01d', '721h']) refused(() => parseFunnelWindow(bad), 'window');
  });
});

/** The most steps reachable by any choice of events in order: what the greedy walk must find. */
function reference(events: readonly FunnelEvent[], steps: readonly FunnelStep[], windowMs: number): number {
  const matches = (step: FunnelStep | undefined, e: FunnelEvent) => step !== undefined && e.type === step.type && (step.path === null || e.path === step.path);
  const start = events.findIndex((e) => matches(steps[0], e));
  if (start === -1) return 0;
  const end = (events[start]?.at ?? 0) + windowMs;
  const best = (from: number, reached: number): number => {
    let most = reached;
    for (let i = from; i < events.length && reached < steps.length; i++) {
      const e = events[i];
      if (e && e.at <= end && matches(steps[reached], e)) most = Math.max(most, best(i + 1, reached + 1));
    }
    return most;
  };
  return best(start + 1, 1);
}

describe('funnel invariants (fast-check)', () => {
  const stepsArb = fc.array(fc.constantFrom('a', 'b', 'c', 'page_view:/x'), { minLength: 2, maxLength: 4 }).map((list) => parseFunnelSteps(list.join(',')));
  const eventsArb = fc
    .array(fc.record({ type: fc.constantFrom('a', 'b', 'c', 'page_view'), path: fc.constantFrom('/x', '/y'), at: fc.integer({ min: 0, max: 3 * HOUR }) }), { maxLength: 9 })
    .map((list) => list.map((e) => ({ ...e, path: e.type === 'page_view' ? e.path : null })).sort((p, q) => p.at - q.at));

  it('walks as far as any choice of events would, and no visitor skips a step', () => {
    fc.assert(
      fc.property(eventsArb, stepsArb, fc.integer({ min: 10, max: 180 }), (events, steps, minutes) => {
        expect(stepsReached(events, steps, minutes * MINUTE)).toBe(reference(events, steps, minutes * MINUTE));
      }),
      { numRuns: 500 },
    );
  });

  it('has visitors that never grow from step to step, drop-offs that add up, rates within 0-1', () => {
    fc.assert(
      fc.property(fc.array(eventsArb, { maxLength: 20 }), stepsArb, (visitors, steps) => {
        const report = funnelOf(visitors, steps, HOUR);
        report.forEach((step, index) => {
          expect(step.conversionRate).toBeGreaterThanOrEqual(0);
          expect(step.conversionRate).toBeLessThanOrEqual(1);
          if (index > 0) expect(step.visitors).toBeLessThanOrEqual(report[index - 1]?.visitors ?? 0);
        });
        const dropped = report.reduce((sum, step) => sum + step.dropOff, 0);
        expect(dropped).toBe((report[0]?.visitors ?? 0) - (report.at(-1)?.visitors ?? 0));
      }),
    );
  });
});
