import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { PostgresEventBus } from '../src/modules/events/event-bus.js';

describe('PostgresEventBus notifications', () => {
  it('sends one NOTIFY for the commits of an interval, carrying the highest id, and none when nothing new committed', async () => {
    const sent: { payload: string; at: number }[] = [];
    const bus = new PostgresEventBus('postgres://unused', pino({ level: 'silent' }), async (payload) => {
      sent.push({ payload, at: performance.now() });
      await new Promise((resolve) => setTimeout(resolve, 1));
    }, 30);
    for (let id = 1n; id <= 50n; id++) bus.committed(id * 10n);
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(sent.map((notice) => notice.payload)).toEqual(['10', '500']);
    // The bus times the interval with Date.now (whole milliseconds); this clock is finer, so allow for the rounding.
    expect((sent[1]?.at ?? 0) - (sent[0]?.at ?? 0)).toBeGreaterThanOrEqual(28);

    // A lone commit later goes at once (the interval since the last one has passed).
    const before = performance.now();
    bus.committed(510n);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(sent.map((notice) => notice.payload)).toEqual(['10', '500', '510']);
    expect((sent[2]?.at ?? 0) - before).toBeLessThan(10);
    await bus.close();
  });
});
