import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneEventKeys } from '../src/db/event-keys.js';
import { createWeeks, partitionBounds, partitionName, weekStart, WEEKS_AHEAD } from '../src/db/partitions.js';
import { pgliteSession, pgSession, type SqlSession } from '../src/db/session.js';
import { runStorageUpkeep } from '../src/db/storage-upkeep.js';
import { createTestApp, type TestContext } from './helpers/app.js';
import { queryRows } from './helpers/database.js';
import { createLiveTag, type LiveTag } from './helpers/factories.js';

const CHROME_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const DAY = 24 * 3600 * 1000;

let ctx: TestContext;
let tag: LiveTag;
beforeAll(async () => {
  ctx = await createTestApp();
  tag = await createLiveTag(ctx.app);
});
afterAll(async () => ctx.app.close());

async function withSession<T>(work: (session: SqlSession) => Promise<T>): Promise<T> {
  const database = ctx.database;
  if (database.engine === 'pglite') return work(pgliteSession(database.client));
  const client = await database.pool.connect();
  try {
    return await work(pgSession(client));
  } finally {
    client.release();
  }
}

async function collect(eventId: string, timestamp: Date): Promise<{ accepted: number; duplicates: number }> {
  const response = await ctx.app.inject({
    method: 'POST',
    url: '/v1/collect',
    headers: { 'content-type': 'application/json', 'user-agent': CHROME_UA, origin: `https://${tag.domain}` },
    payload: JSON.stringify({ tagId: tag.tagId, events: [{ eventId, type: 'page_view', url: `https://${tag.domain}/`, timestamp: timestamp.toISOString() }] }),
  });
  expect(response.statusCode, response.body).toBe(202);
  return response.json();
}

/** Where each copy of an event is stored: the partition's name, one row per copy. */
async function stored(eventId: string): Promise<string[]> {
  const rows = await queryRows<{ partition: string }>(
    ctx.database,
    sql`select tableoid::regclass::text as partition from events where event_id = ${eventId}::uuid`,
  );
  return rows.map((row) => row.partition.replaceAll('"', ''));
}

describe('weekly partitions of the events', () => {
  it('start on Mondays at 00:00 UTC and are named by that day', () => {
    expect(weekStart(new Date('2026-12-02T13:00:00Z')).toISOString()).toBe('2026-11-30T00:00:00.000Z');
    expect(weekStart(new Date('2026-11-30T00:00:00Z')).toISOString()).toBe('2026-11-30T00:00:00.000Z');
    expect(weekStart(new Date('2026-12-06T23:59:59Z')).toISOString()).toBe('2026-11-30T00:00:00.000Z');
    expect(partitionName(new Date('2026-11-30T00:00:00Z'))).toBe('events_w20261130');
  });

  it('exist at start for last week, this week and the weeks ahead, beside a default partition', async () => {
    const bounds = await withSession((session) => partitionBounds(session));
    const thisWeek = weekStart(new Date()).getTime();
    for (let week = -1; week <= WEEKS_AHEAD; week++) {
      const start = new Date(thisWeek + week * 7 * DAY);
      expect(bounds.find((bound) => bound.name === partitionName(start))?.lo?.getTime()).toBe(start.getTime());
    }
    expect(bounds.filter((bound) => bound.is_default).map((bound) => bound.name)).toEqual(['events_default']);
    // Running the chores again creates nothing new.
    expect((await runStorageUpkeep(ctx.database))?.partitions).toEqual([]);
  });

  it('refuse a replay whose timestamp falls in another partition than the first copy', async () => {
    const eventId = randomUUID();
    const lastWeek = new Date(weekStart(new Date()).getTime() - 2 * DAY);
    expect(await collect(eventId, lastWeek)).toEqual({ accepted: 1, duplicates: 0 });
    expect(await collect(eventId, new Date())).toEqual({ accepted: 1, duplicates: 1 });
    expect(await stored(eventId)).toEqual([partitionName(weekStart(lastWeek))]);
  });

  it('keep an event of a week without a partition in the default one, and move it into its week when that is created', async () => {
    const eventId = randomUUID();
    const longAgo = new Date('2001-03-14T10:00:00Z');
    expect(await collect(eventId, longAgo)).toEqual({ accepted: 1, duplicates: 0 });
    expect(await stored(eventId)).toEqual(['events_default']);
    const created = await withSession((session) => createWeeks(session, longAgo, new Date(longAgo.getTime() + 1)));
    expect(created).toEqual(['events_w20010312']);
    expect(await stored(eventId)).toEqual(['events_w20010312']);
    expect(await collect(eventId, longAgo)).toEqual({ accepted: 1, duplicates: 1 });
    // The moved partition is indexed like the others: the merchant's page still reads it through an index.
    const page = await ctx.app.inject({
      method: 'GET',
      url: `/v1/partners/events?merchantId=${tag.merchantId}&from=2001-03-01T00:00:00Z&to=2001-04-01T00:00:00Z`,
      headers: { authorization: `Bearer ${tag.token}` },
    });
    expect(page.json<{ events: { eventId: string }[] }>().events.map((event) => event.eventId)).toEqual([eventId]);
  });

  it('forget keys after the deduplication window: a replay older than that is stored again', async () => {
    const eventId = randomUUID();
    const eightDaysAgo = new Date(Date.now() - 8 * DAY);
    expect(await collect(eventId, eightDaysAgo)).toEqual({ accepted: 1, duplicates: 0 });
    // As if it had been received eight days ago.
    await ctx.database.db.execute(sql`update event_keys set received_at = ${eightDaysAgo.toISOString()} where event_id = ${eventId}::uuid`);
    const fresh = randomUUID();
    expect(await collect(fresh, new Date())).toEqual({ accepted: 1, duplicates: 0 });
    expect(await withSession((session) => pruneEventKeys(session))).toBeGreaterThanOrEqual(1);
    const keys = await queryRows<{ event_id: string }>(ctx.database, sql`select event_id::text from event_keys where event_id in (${eventId}::uuid, ${fresh}::uuid)`);
    expect(keys.map((key) => key.event_id)).toEqual([fresh]);
    expect(await collect(fresh, new Date())).toEqual({ accepted: 1, duplicates: 1 });
    expect(await collect(eventId, eightDaysAgo)).toEqual({ accepted: 1, duplicates: 0 });
  });
});
