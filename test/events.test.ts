import pg from 'pg';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventPage, Summary } from '../src/modules/events/schemas.js';
import { bearer, createTestApp, errorOf, type TestContext } from './helpers/app.js';
import { engine, queryRows } from './helpers/database.js';
import { seedEvents, type Owner } from './helpers/events.js';
import { createMerchant, createPartner, createTag } from './helpers/factories.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestApp();
});
afterAll(async () => ctx.app.close());

interface World extends Owner {
  token: string;
}

async function world(): Promise<World> {
  const partner = await createPartner(ctx.app);
  const merchantId = await createMerchant(ctx.app, partner.token);
  return { partnerId: partner.partnerId, merchantId, tagId: await createTag(ctx.app, partner.token, merchantId), token: partner.token };
}

async function get<T>(token: string, url: string): Promise<T> {
  const response = await ctx.app.inject({ method: 'GET', url, headers: bearer(token) });
  if (response.statusCode !== 200) throw new Error(`${url}: ${response.statusCode} ${response.body}`);
  return response.json<T>();
}

const ago = (minutes: number) => new Date(Date.now() - minutes * 60_000);

describe('GET /v1/partners/events', () => {
  it('answers events newest first, ties by id, in the documented shape', async () => {
    const w = await world();
    const same = ago(10);
    const [oldest, tieA, tieB] = await seedEvents(ctx.database, w, [
      { at: ago(20), type: 'page_view', url: 'https://shop.example.test/a', title: 'A', sessionId: 's1' },
      { at: same, type: 'purchase', value: 49.9, currency: 'EUR', properties: { orderId: 'A-1' }, referrer: 'https://x.test/' },
      { at: same, type: 'lead' },
    ]);
    const page = await get<EventPage>(w.token, `/v1/partners/events?merchantId=${w.merchantId}`);
    expect(page.events.map((e) => e.eventId)).toEqual([tieB?.eventId, tieA?.eventId, oldest?.eventId]);
    expect(BigInt(page.events[0]?.id ?? 0)).toBeGreaterThan(BigInt(page.events[1]?.id ?? 0));
    expect(page.events[1]).toEqual({
      id: expect.stringMatching(/^\d+$/) as string,
      eventId: tieA?.eventId,
      tagId: w.tagId,
      merchantId: w.merchantId,
      type: 'purchase',
      timestamp: same.toISOString(),
      receivedAt: same.toISOString(),
      url: 'https://shop.example.test/',
      referrer: 'https://x.test/',
      title: null,
      visitorId: 'visitor-1',
      sessionId: null,
      value: 49.9,
      currency: 'EUR',
      properties: { orderId: 'A-1' },
      device: { type: 'desktop', browser: 'Chrome', os: 'Linux' },
      source: 'browser',
      userId: null,
      country: null,
      attribution: { source: '(direct)', medium: '(none)', campaign: null, term: null, content: null, channel: 'Direct', clickIdType: null, referrerHost: null, landingPage: null },
    });
    expect(page.pagination).toEqual({ limit: 100, hasMore: false, nextCursor: null });
  });

  it('filters by merchant, tag, type list, time range, visitor and session; spans all merchants without merchantId', async () => {
    const w = await world();
    const otherMerchant = await createMerchant(ctx.app, w.token);
    const otherTag = await createTag(ctx.app, w.token, otherMerchant);
    const t0 = ago(60);
    await seedEvents(ctx.database, w, [
      { at: t0, type: 'page_view', visitorId: 'v1', sessionId: 's1' },
      { at: new Date(t0.getTime() + 1000), type: 'purchase', visitorId: 'v1', sessionId: 's1' },
      { at: new Date(t0.getTime() + 2000), type: 'lead', visitorId: 'v2', sessionId: 's2' },
      { at: ago(40 * 24 * 60), type: 'page_view', visitorId: 'v1' },
    ]);
    await seedEvents(ctx.database, { ...w, merchantId: otherMerchant, tagId: otherTag }, [{ at: t0, type: 'sign_up', visitorId: 'v3' }]);
    const types = async (query: string) => (await get<EventPage>(w.token, `/v1/partners/events?${query}`)).events.map((e) => e.type);

    // sign_up and page_view share a time: the later id comes first.
    expect(await types('')).toEqual(['lead', 'purchase', 'sign_up', 'page_view']);
    expect((await types(`merchantId=${w.merchantId}`)).sort()).toEqual(['lead', 'page_view', 'purchase']);
    expect(await types(`tagId=${otherTag}`)).toEqual(['sign_up']);
    expect(await types(`merchantId=${w.merchantId}&type=purchase,lead`)).toEqual(['lead', 'purchase']);
    expect(await types(`visitorId=v1`)).toEqual(['purchase', 'page_view']);
    expect(await types(`sessionId=s2`)).toEqual(['lead']);
    const from = new Date(t0.getTime() + 1000).toISOString();
    const to = new Date(t0.getTime() + 2000).toISOString();
    expect(await types(`merchantId=${w.merchantId}&from=${from}&to=${to}`)).toEqual(['purchase']);
    // Older than the default 30 days: only with an explicit from.
    expect(await types(`merchantId=${w.merchantId}&from=${ago(50 * 24 * 60).toISOString().slice(0, 10)}`)).toHaveLength(4);
  });

  it('pages with a cursor: every event exactly once, while new events keep arriving', async () => {
    const w = await world();
    const base = ago(120);
    // Ties in time too: several events share a timestamp.
    const seeded = await seedEvents(
      ctx.database,
      w,
      Array.from({ length: 37 }, (_, i) => ({ at: new Date(base.getTime() + Math.floor(i / 3) * 1000), type: 'page_view' })),
    );
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const url = `/v1/partners/events?merchantId=${w.merchantId}&limit=5${cursor ? `&cursor=${cursor}` : ''}`;
      const page: EventPage = await get<EventPage>(w.token, url);
      seen.push(...page.events.map((e) => e.eventId));
      cursor = page.pagination.nextCursor;
      expect(page.pagination.hasMore).toBe(cursor !== null);
      pages++;
      // Newcomers, newer than everything: they must not shift the pages being walked.
      await seedEvents(ctx.database, w, [{ at: new Date() }, { at: new Date() }]);
    } while (cursor !== null);
    expect(pages).toBe(8);
    expect(seen.filter((id) => seeded.some((e) => e.eventId === id)).sort()).toEqual(seeded.map((e) => e.eventId).sort());
    expect(new Set(seen).size).toBe(seen.length);
  });

  it.each([
    ['from=yesterday', 'from'],
    ['from=2025-13-45', 'from'],
    ['from=2025-02-02&to=2025-02-01', 'from'],
    ['type=Purchase', 'type'],
    ['type=purchase,,lead', 'type'],
    ['limit=0', 'limit'],
    ['limit=1001', 'limit'],
    ['cursor=not-a-cursor', 'cursor'],
    ['merchantId=nope', 'merchantId'],
    ['unknown=1', 'unknown'],
  ])('refuses %s with 400 VALIDATION_ERROR', async (query, field) => {
    const w = await world();
    const response = await ctx.app.inject({ method: 'GET', url: `/v1/partners/events?${query}`, headers: bearer(w.token) });
    expect(response.statusCode).toBe(400);
    const error = errorOf(response);
    expect(error.code).toBe('VALIDATION_ERROR');
    expect(error.details?.[0]?.field).toBe(field);
  });

  it('refuses a cursor from another query or another partner', async () => {
    const w = await world();
    await seedEvents(ctx.database, w, [{ at: ago(3) }, { at: ago(2) }, { at: ago(1) }]);
    const first = await get<EventPage>(w.token, `/v1/partners/events?merchantId=${w.merchantId}&limit=1`);
    const cursor = first.pagination.nextCursor ?? '';
    for (const [token, query] of [
      [w.token, `type=page_view&limit=1`],
      [w.token, `limit=1`],
      [(await world()).token, `limit=1`],
    ] as const) {
      const response = await ctx.app.inject({ method: 'GET', url: `/v1/partners/events?${query}&cursor=${cursor}`, headers: bearer(token) });
      expect(response.statusCode).toBe(400);
      expect(errorOf(response).details?.[0]?.field).toBe('cursor');
    }
    const next = await ctx.app.inject({ method: 'GET', url: `/v1/partners/events?merchantId=${w.merchantId}&limit=1&cursor=${cursor}`, headers: bearer(w.token) });
    expect(next.statusCode).toBe(200);
  });

  it('answers 404 for another partner’s merchant or tag, and never shows another partner’s events', async () => {
    const mine = await world();
    const theirs = await world();
    await seedEvents(ctx.database, theirs, [{ at: ago(1), type: 'purchase' }]);
    const merchant = await ctx.app.inject({ method: 'GET', url: `/v1/partners/events?merchantId=${theirs.merchantId}`, headers: bearer(mine.token) });
    expect(merchant.statusCode).toBe(404);
    expect(errorOf(merchant).code).toBe('MERCHANT_NOT_FOUND');
    const tag = await ctx.app.inject({ method: 'GET', url: `/v1/partners/events?tagId=${theirs.tagId}`, headers: bearer(mine.token) });
    expect(tag.statusCode).toBe(404);
    expect(errorOf(tag).code).toBe('TAG_NOT_FOUND');
    const otherMerchant = await createMerchant(ctx.app, mine.token);
    const mismatch = await ctx.app.inject({
      method: 'GET',
      url: `/v1/partners/events?merchantId=${otherMerchant}&tagId=${mine.tagId}`,
      headers: bearer(mine.token),
    });
    expect(mismatch.statusCode).toBe(404);
    expect(errorOf(mismatch).code).toBe('TAG_NOT_FOUND');
    expect((await get<EventPage>(mine.token, '/v1/partners/events')).events).toEqual([]);
  });
});

describe('GET /v1/partners/events/summary', () => {
  it('adds up totals, conversions per currency, counts by type and a day series with empty days', async () => {
    const w = await world();
    const day = (d: number, h = 12) => new Date(Date.UTC(2025, 0, d, h));
    await seedEvents(ctx.database, w, [
      { at: day(10), type: 'page_view', visitorId: 'v1', sessionId: 's1' },
      { at: day(10, 13), type: 'purchase', visitorId: 'v1', sessionId: 's1', value: 10.25, currency: 'EUR' },
      { at: day(10, 14), type: 'purchase', visitorId: 'v2', sessionId: 's2', value: 20, currency: 'USD' },
      { at: day(12), type: 'page_view', visitorId: 'v2', sessionId: 's3' },
      { at: day(12, 1), type: 'lead', visitorId: 'v3' },
      { at: day(12, 2), type: 'purchase', visitorId: 'v3', value: 0.5, currency: 'EUR' },
      { at: day(12, 3), type: 'purchase', visitorId: 'v3', value: 5 },
      { at: day(12, 4), type: 'add_to_cart', visitorId: 'v3', value: 99, currency: 'EUR' },
      { at: day(14), type: 'page_view', visitorId: 'v9' },
    ]);
    const summary = await get<Summary>(w.token, `/v1/partners/events/summary?merchantId=${w.merchantId}&from=2025-01-10&to=2025-01-14`);
    expect(summary.totals).toEqual({
      events: 8,
      visitors: 3,
      sessions: 3,
      pageViews: 2,
      conversions: 5,
      conversionValue: [
        { currency: 'EUR', value: 10.75 },
        { currency: 'USD', value: 20 },
      ],
    });
    expect(summary.byType).toEqual([
      { type: 'purchase', count: 4 },
      { type: 'page_view', count: 2 },
      { type: 'add_to_cart', count: 1 },
      { type: 'lead', count: 1 },
    ]);
    expect(summary.series).toEqual([
      { start: '2025-01-10T00:00:00.000Z', events: 3, visitors: 2, conversions: 2 },
      { start: '2025-01-11T00:00:00.000Z', events: 0, visitors: 0, conversions: 0 },
      { start: '2025-01-12T00:00:00.000Z', events: 5, visitors: 2, conversions: 3 },
      { start: '2025-01-13T00:00:00.000Z', events: 0, visitors: 0, conversions: 0 },
    ]);
  });

  it('buckets by the requested time zone, through daylight saving changes, by day or by hour', async () => {
    const w = await world();
    // 2025-10-26: Paris leaves summer time, a 25-hour day (22:00 UTC on the 25th to 23:00 UTC on the 26th).
    // 23:30 UTC on the 25th is already the 26th in Paris; 23:30 UTC on the 26th is already the 27th.
    await seedEvents(ctx.database, w, [
      { at: '2025-10-25T21:30:00Z', type: 'page_view' },
      { at: '2025-10-25T23:30:00Z', type: 'page_view' },
      { at: '2025-10-26T22:30:00Z', type: 'page_view' },
      { at: '2025-10-26T23:30:00Z', type: 'page_view' },
    ]);
    const paris = await get<Summary>(
      w.token,
      `/v1/partners/events/summary?merchantId=${w.merchantId}&from=2025-10-24T22:00:00Z&to=2025-10-27T23:00:00Z&timezone=Europe/Paris`,
    );
    expect(paris.series).toEqual([
      { start: '2025-10-24T22:00:00.000Z', events: 1, visitors: 1, conversions: 0 },
      { start: '2025-10-25T22:00:00.000Z', events: 2, visitors: 1, conversions: 0 },
      { start: '2025-10-26T23:00:00.000Z', events: 1, visitors: 1, conversions: 0 },
    ]);
    const utc = await get<Summary>(w.token, `/v1/partners/events/summary?merchantId=${w.merchantId}&from=2025-10-25&to=2025-10-27`);
    expect(utc.series.map((b) => b.events)).toEqual([2, 2]);
    const hourly = await get<Summary>(
      w.token,
      `/v1/partners/events/summary?merchantId=${w.merchantId}&from=2025-10-25T21:00:00Z&to=2025-10-26T00:00:00Z&interval=hour`,
    );
    expect(hourly.series.map((b) => [b.start.slice(11, 16), b.events])).toEqual([
      ['21:00', 1],
      ['22:00', 0],
      ['23:00', 1],
    ]);
  });

  it('reads a date-only from and to as midnights in the requested time zone, to exclusive: exactly those days, none lost at the edges', async () => {
    const w = await world();
    await seedEvents(ctx.database, w, [
      { at: '2026-11-24T22:59:59Z', type: 'page_view' }, // 23:59:59 on the 24th in Paris: before the range
      { at: '2026-11-24T23:30:00Z', type: 'page_view' }, // 00:30 on the 25th in Paris: the first day
      { at: '2026-12-01T22:59:59Z', type: 'page_view' }, // 23:59:59 on the 1st in Paris: the last day
      { at: '2026-12-01T23:00:00Z', type: 'page_view' }, // midnight starting the 2nd in Paris: `to` is exclusive
    ]);
    const paris = await get<Summary>(w.token, `/v1/partners/events/summary?merchantId=${w.merchantId}&from=2026-11-25&to=2026-12-02&timezone=Europe/Paris`);
    expect(paris.series.map((b) => b.start)).toEqual(
      ['24', '25', '26', '27', '28', '29', '30'].map((day) => `2026-11-${day}T23:00:00.000Z`),
    );
    expect(paris.series.map((b) => b.events)).toEqual([1, 0, 0, 0, 0, 0, 1]);
    expect(paris.totals.events).toBe(2);
    // Without a time zone the same dates are UTC days.
    const utc = await get<Summary>(w.token, `/v1/partners/events/summary?merchantId=${w.merchantId}&from=2026-11-25&to=2026-12-02`);
    expect(utc.series.map((b) => b.start)).toEqual(['25', '26', '27', '28', '29', '30'].map((day) => `2026-11-${day}T00:00:00.000Z`).concat('2026-12-01T00:00:00.000Z'));
    expect(utc.series.map((b) => b.events)).toEqual([0, 0, 0, 0, 0, 0, 2]);
  });

  it('reads date-only days through daylight saving changes, and a day whose midnight does not exist', async () => {
    const w = await world();
    // 2026-10-25: Paris leaves summer time (a 25-hour day); 2026-03-29: it enters it (23 hours).
    await seedEvents(ctx.database, w, [
      { at: '2026-10-23T21:59:59Z', type: 'page_view' }, // before the 24th in Paris
      { at: '2026-10-23T22:00:00Z', type: 'page_view' }, // the 24th's first second
      { at: '2026-10-25T22:59:59Z', type: 'page_view' }, // the 25th's last second, 25 hours after its midnight
      { at: '2026-10-26T22:59:59Z', type: 'page_view' }, // the 26th's last second
      { at: '2026-10-26T23:00:00Z', type: 'page_view' }, // the 27th: excluded
      { at: '2026-03-28T23:00:00Z', type: 'lead' }, // the 29th's first second
      { at: '2026-03-29T21:59:59Z', type: 'lead' }, // the 29th's last second, 23 hours later
      { at: '2026-03-29T22:00:00Z', type: 'lead' }, // the 30th: excluded
    ]);
    const autumn = await get<Summary>(w.token, `/v1/partners/events/summary?merchantId=${w.merchantId}&from=2026-10-24&to=2026-10-27&timezone=Europe/Paris`);
    expect(autumn.series.map((b) => [b.start, b.events])).toEqual([
      ['2026-10-23T22:00:00.000Z', 1],
      ['2026-10-24T22:00:00.000Z', 1],
      ['2026-10-25T23:00:00.000Z', 1],
    ]);
    const spring = await get<Summary>(w.token, `/v1/partners/events/summary?merchantId=${w.merchantId}&from=2026-03-29&to=2026-03-30&timezone=Europe/Paris`);
    expect(spring.series.map((b) => [b.start, b.events])).toEqual([['2026-03-28T23:00:00.000Z', 2]]);
    const hourly = await get<Summary>(w.token, `/v1/partners/events/summary?merchantId=${w.merchantId}&from=2026-03-29&to=2026-03-30&interval=hour&timezone=Europe/Paris`);
    expect(hourly.series).toHaveLength(23);
    expect(hourly.totals.events).toBe(2);
    // Santiago enters summer time at midnight: 2026-09-06 starts at 01:00 local (04:00 UTC).
    const santiago = await get<Summary>(w.token, `/v1/partners/events/summary?merchantId=${w.merchantId}&from=2026-09-05&to=2026-09-08&timezone=America/Santiago`);
    expect(santiago.series.map((b) => b.start)).toEqual(['2026-09-05T04:00:00.000Z', '2026-09-06T04:00:00.000Z', '2026-09-07T03:00:00.000Z']);
  });

  it('reads a date-only from and to as UTC midnights on the events list, which takes no time zone', async () => {
    const w = await world();
    await seedEvents(ctx.database, w, [
      { at: '2026-11-24T23:30:00Z', type: 'page_view' },
      { at: '2026-11-25T00:00:00Z', type: 'lead' },
      { at: '2026-11-25T23:59:59Z', type: 'purchase' },
      { at: '2026-11-26T00:00:00Z', type: 'sign_up' },
    ]);
    const page = await get<EventPage>(w.token, `/v1/partners/events?merchantId=${w.merchantId}&from=2026-11-25&to=2026-11-26`);
    expect(page.events.map((e) => e.type)).toEqual(['purchase', 'lead']);
  });

  it('lists every bucket of a 23-hour day and of a half-hour zone, empty ones included', async () => {
    const w = await world();
    // 2025-03-09: New York enters summer time, a 23-hour day (05:00 UTC on the 9th to 04:00 UTC on the 10th).
    await seedEvents(ctx.database, w, [
      { at: '2025-03-10T03:30:00Z', type: 'page_view' },
      { at: '2025-03-10T04:30:00Z', type: 'page_view' },
    ]);
    const newYork = await get<Summary>(
      w.token,
      `/v1/partners/events/summary?merchantId=${w.merchantId}&from=2025-03-08T05:00:00Z&to=2025-03-11T04:00:00Z&timezone=America/New_York`,
    );
    expect(newYork.series).toEqual([
      { start: '2025-03-08T05:00:00.000Z', events: 0, visitors: 0, conversions: 0 },
      { start: '2025-03-09T05:00:00.000Z', events: 1, visitors: 1, conversions: 0 },
      { start: '2025-03-10T04:00:00.000Z', events: 1, visitors: 1, conversions: 0 },
    ]);
    // India is UTC+05:30: its hours start at half past in UTC.
    const kolkata = await get<Summary>(
      w.token,
      `/v1/partners/events/summary?merchantId=${w.merchantId}&from=2025-03-10T02:30:00Z&to=2025-03-10T05:30:00Z&interval=hour&timezone=Asia/Kolkata`,
    );
    expect(kolkata.series.map((b) => [b.start.slice(11, 16), b.events])).toEqual([
      ['02:30', 0],
      ['03:30', 1],
      ['04:30', 1],
    ]);
  });

  it.each([
    ['', 'merchantId'],
    ['&timezone=Mars/Olympus', 'timezone'],
    ['&interval=week', 'interval'],
    ['&from=2020-01-01&to=2025-01-01&interval=hour', 'interval'],
    ['&from=2025-02-01&to=2025-01-01', 'from'],
    ['&from=2026-02-31&timezone=Europe/Paris', 'from'],
  ])('refuses %s with 400 VALIDATION_ERROR', async (query, field) => {
    const w = await world();
    const merchant = query === '' ? '' : `merchantId=${w.merchantId}`;
    const response = await ctx.app.inject({ method: 'GET', url: `/v1/partners/events/summary?${merchant}${query}`, headers: bearer(w.token) });
    expect(response.statusCode).toBe(400);
    expect(errorOf(response).details?.[0]?.field).toBe(field);
  });

  it('answers 404 for another partner’s merchant', async () => {
    const mine = await world();
    const theirs = await world();
    const response = await ctx.app.inject({ method: 'GET', url: `/v1/partners/events/summary?merchantId=${theirs.merchantId}`, headers: bearer(mine.token) });
    expect(response.statusCode).toBe(404);
    expect(errorOf(response).code).toBe('MERCHANT_NOT_FOUND');
  });
});

describe('GET /v1/partners/events/export', () => {
  it('streams every matching event as NDJSON, as a download', async () => {
    const w = await world();
    const seeded = await seedEvents(ctx.database, w, Array.from({ length: 2345 }, (_, i) => ({ at: new Date(ago(600).getTime() + i), type: i % 10 === 0 ? 'purchase' : 'page_view' })));
    const response = await ctx.app.inject({ method: 'GET', url: `/v1/partners/events/export?merchantId=${w.merchantId}`, headers: bearer(w.token) });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
    expect(response.headers['content-disposition']).toMatch(new RegExp(`^attachment; filename="marktag-events-${w.merchantId}-\\d{4}-\\d{2}-\\d{2}\\.ndjson"$`));
    const lines = response.body.trimEnd().split('\n').map((line) => JSON.parse(line) as { eventId: string });
    expect(lines).toHaveLength(2345);
    expect(new Set(lines.map((l) => l.eventId))).toEqual(new Set(seeded.map((e) => e.eventId)));

    const purchases = await ctx.app.inject({ method: 'GET', url: `/v1/partners/events/export?merchantId=${w.merchantId}&type=purchase`, headers: bearer(w.token) });
    expect(purchases.body.trimEnd().split('\n')).toHaveLength(235);
  });

  it('writes CSV with a header, RFC 4180 quoting and formula-safe cells', async () => {
    const w = await world();
    await seedEvents(ctx.database, w, [{ at: ago(5), type: 'lead', title: 'Say "hi", then\nleave', url: '=HYPERLINK("http://evil.test")', properties: { a: 1 } }]);
    const response = await ctx.app.inject({ method: 'GET', url: `/v1/partners/events/export?merchantId=${w.merchantId}&format=csv`, headers: bearer(w.token) });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(response.headers['content-disposition']).toMatch(/\.csv"$/);
    const [header, row] = response.body.split('\r\n');
    expect(header).toBe(
      'id,eventId,tagId,merchantId,type,timestamp,receivedAt,url,referrer,title,visitorId,sessionId,value,currency,properties,deviceType,deviceBrowser,deviceOs,' +
        'source,userId,country,attributionSource,attributionMedium,attributionCampaign,attributionTerm,attributionContent,channel,clickIdType,referrerHost,landingPage',
    );
    expect(row).toContain(`"'=HYPERLINK(""http://evil.test"")"`);
    expect(response.body).toContain('"Say ""hi"", then\nleave"');
    expect(row).toContain('"{""a"":1}"');
  });

  it('answers 404 for another partner’s merchant and 400 for a bad format', async () => {
    const mine = await world();
    const theirs = await world();
    expect((await ctx.app.inject({ method: 'GET', url: `/v1/partners/events/export?merchantId=${theirs.merchantId}`, headers: bearer(mine.token) })).statusCode).toBe(404);
    expect((await ctx.app.inject({ method: 'GET', url: '/v1/partners/events/export?format=xlsx', headers: bearer(mine.token) })).statusCode).toBe(400);
  });
});

describe('indexes', () => {
  it.runIf(engine === 'postgres')('serve each query without scanning a merchant’s history (EXPLAIN)', async () => {
    const w = await world();
    // 60,000 events over 30 days, one in a thousand of a rare type, then fresh statistics.
    // A bulk load, not a request: on a connection of its own, free of the pool's statement timeout and stall guard.
    const loader = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await loader.connect();
    try {
      await loader.query(
        `insert into events (id, event_id, tag_id, merchant_id, partner_id, type, timestamp, received_at, url, visitor_id, session_id)
      select (select base from event_id_base) + (pg_current_xact_id()::text::bigint << 20) + g, gen_random_uuid(), $1, $2, $3,
             case when g % 1000 = 0 then 'rare_type' when g % 10 = 0 then 'purchase' else 'page_view' end,
             now() - (g || ' seconds')::interval * 43, now(), 'https://shop.example.test/', 'v' || (g % 5000), 's' || (g % 20000)
      from generate_series(1, 60000) g`,
        [w.tagId, w.merchantId, w.partnerId],
      );
    } finally {
      await loader.end();
    }
    await ctx.database.db.execute(sql`analyze events`);
    const page = (filter: string) => `select * from events where partner_id = '${w.partnerId}' and ${filter}
      and timestamp >= now() - interval '30 days' order by timestamp desc nulls last, id desc nulls last limit 101`;
    interface PlanNode {
      'Node Type': string;
      'Index Name'?: string;
      'Relation Name'?: string;
      'Actual Rows'?: number;
      'Rows Removed by Filter'?: number;
      Plans?: PlanNode[];
    }
    const nodes = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodes)];
    for (const filter of [
      `merchant_id = '${w.merchantId}'`,
      `merchant_id = '${w.merchantId}' and type = 'rare_type'`,
      `merchant_id = '${w.merchantId}' and type in ('rare_type', 'purchase')`,
      `merchant_id = '${w.merchantId}' and tag_id = '${w.tagId}'`,
      `type = 'rare_type'`,
      `visitor_id = 'v42'`,
      `session_id = 's42'`,
      `merchant_id = '${w.merchantId}' and (timestamp, id) < (now() - interval '10 days', 1)`,
    ]) {
      const [row] = await queryRows<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(ctx.database, sql.raw(`explain (analyze, format json) ${page(filter)}`));
      const plan = nodes(row?.['QUERY PLAN'][0].Plan ?? { 'Node Type': 'none' });
      const described = JSON.stringify(plan.map((n) => [n['Node Type'], n['Index Name'], n['Actual Rows'], n['Rows Removed by Filter']]));
      // Empty partitions (the weeks ahead) cost nothing to scan, so the planner may pick a Seq Scan there; never where there are rows.
      const seqRead = plan.filter((n) => n['Node Type'] === 'Seq Scan').reduce((sum, n) => sum + (n['Actual Rows'] ?? 0) + (n['Rows Removed by Filter'] ?? 0), 0);
      expect(seqRead, `${filter}: ${described}`).toBe(0);
      // Rows read to answer one page: the page itself and little more, never the merchant's 60,000.
      const touched = plan.filter((n) => n['Relation Name'] !== undefined).reduce((sum, n) => sum + (n['Actual Rows'] ?? 0) + (n['Rows Removed by Filter'] ?? 0), 0);
      expect(touched, `${filter}: ${described}`).toBeLessThan(2000);
    }
  }, 60_000);
});
