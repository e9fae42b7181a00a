import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openPglite, openPostgres, type DatabaseHandle } from '../src/db/client.js';
import { migrate } from '../src/db/migrate.js';
import { runStorageUpkeep } from '../src/db/storage-upkeep.js';
import type { ApiEvent } from '../src/modules/events/schemas.js';
import { bearer, createTestApp } from './helpers/app.js';
import { engine, queryRows } from './helpers/database.js';
import { createPartner, type LiveTag } from './helpers/factories.js';
import { migrationsBefore } from './helpers/migrations.js';
import { SseClient } from './helpers/sse.js';

const CHROME_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36';

/** What the previous release's collector wrote: an identity id, the key unique in the table itself. */
async function writeAsPreviousRelease(handle: DatabaseHandle, tag: LiveTag, count: number, at: (i: number) => Date): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const eventId = randomUUID();
    const time = at(i).toISOString();
    await handle.db.execute(sql`
      insert into events (event_id, tag_id, merchant_id, partner_id, type, timestamp, received_at, url, visitor_id, session_id, device_type)
      values (${eventId}, ${tag.tagId}, ${tag.merchantId}, ${tag.partnerId}, 'page_view', ${time}, ${time}, 'https://shop.example.test/old', 'v-old', 's-old', 'desktop')
      on conflict (tag_id, event_id) do nothing`);
    ids.push(eventId);
  }
  return ids;
}

async function previousReleaseDatabase(): Promise<{ handle: DatabaseHandle; drop: () => Promise<void> }> {
  const before = migrationsBefore('_events_partitioned');
  try {
    if (engine === 'pglite') {
      const handle = await openPglite(undefined);
      await migratePglite(drizzlePglite({ client: handle.client }), { migrationsFolder: before.folder });
      return { handle, drop: () => handle.close() };
    }
    const url = new URL(process.env.TEST_DATABASE_URL ?? '');
    const name = `${url.pathname.slice(1)}_upgrade`;
    const admin = new pg.Client({ connectionString: url.toString() });
    await admin.connect();
    await admin.query(`drop database if exists "${name}" with (force)`);
    await admin.query(`create database "${name}"`);
    await admin.end();
    url.pathname = `/${name}`;
    const handle = openPostgres(url.toString(), { max: 4 });
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    await migratePg(drizzlePg({ client }), { migrationsFolder: before.folder });
    await client.end();
    return {
      handle,
      drop: async () => {
        await handle.close();
        const again = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
        await again.connect();
        await again.query(`drop database if exists "${name}" with (force)`);
        await again.end();
      },
    };
  } finally {
    before.cleanup();
  }
}

/** A partner (Admin API), its merchant (the previous release's row) and a live tag on the partner's domain (Partners API). */
async function previousReleaseTag(ctx: Awaited<ReturnType<typeof createTestApp>>, handle: DatabaseHandle): Promise<LiveTag> {
  const partnerDomain = `p${randomUUID().slice(0, 8)}.test`;
  const partner = await createPartner(ctx.app, { domain: partnerDomain });
  const merchantId = randomUUID();
  await queryRows(handle, sql`insert into merchants (id, partner_id, name) values (${merchantId}, ${partner.partnerId}, 'Old merchant')`);
  const domain = `shop.${partnerDomain}`;
  const response = await ctx.app.inject({ method: 'POST', url: '/v1/partners/marktag/generate', headers: bearer(partner.token), payload: { merchantId, domain } });
  if (response.statusCode !== 200) throw new Error(`generate: ${response.statusCode} ${response.body}`);
  return { token: partner.token, partnerId: partner.partnerId, merchantId, tagId: response.json<{ tagId: string }>().tagId, domain };
}

describe('upgrading a database whose events the previous release wrote', () => {
  it('keeps every stored event, readable once, in order, with replays still refused and streams resuming', async () => {
    const { handle, drop } = await previousReleaseDatabase();
    // The app sets the tenant up before the upgrade, but for the merchant, whose row a later migration
    // widened (0007's keepQueryParams): it is written as the previous release wrote it.
    const ctx = await createTestApp({}, { database: handle });
    try {
      const tag = await previousReleaseTag(ctx, handle);
      const now = Date.now();
      // Forty events over the last 60 days (older than the deduplication window, and within it), newest last.
      const stored = await writeAsPreviousRelease(handle, tag, 40, (i) => new Date(now - (40 - i) * 1.5 * 24 * 3600 * 1000));
      const [{ max: lastOldId } = { max: '0' }] = await queryRows<{ max: string }>(handle, sql`select max(id)::text as max from events`);

      // As the server starts: the migrations, then the partition indexes left to the upkeep, which
      // builds them (concurrently on PostgreSQL) once the server listens.
      await migrate(handle, { partitionIndexes: 'later' });
      const valid = async () =>
        queryRows<{ valid: boolean; n: number }>(handle, sql`select bool_and(indisvalid) as valid, count(*)::int as n from pg_index where indrelid = 'events'::regclass`);
      expect(await valid()).toEqual([{ valid: false, n: 10 }]);
      const upkeep = await runStorageUpkeep(handle);
      expect(upkeep?.indexesBuilt).toBeGreaterThanOrEqual(6);
      // Every parent index is valid only once each partition, the stored events' one included, has it.
      expect(await valid()).toEqual([{ valid: true, n: 10 }]);
      // A second start finds nothing to do.
      await migrate(handle);
      expect((await runStorageUpkeep(handle))?.indexesBuilt).toBe(0);
      const legacy = await queryRows<{ n: number }>(handle, sql`select count(*)::int as n from events_legacy`);
      expect(legacy).toEqual([{ n: 40 }]);

      const all: ApiEvent[] = [];
      let cursor: string | undefined;
      do {
        const page = await ctx.app.inject({
          method: 'GET',
          url: `/v1/partners/events?merchantId=${tag.merchantId}&from=${new Date(now - 90 * 24 * 3600 * 1000).toISOString()}&limit=7${cursor ? `&cursor=${cursor}` : ''}`,
          headers: bearer(tag.token),
        });
        expect(page.statusCode).toBe(200);
        const body = page.json<{ events: ApiEvent[]; pagination: { nextCursor: string | null } }>();
        all.push(...body.events);
        cursor = body.pagination.nextCursor ?? undefined;
      } while (cursor);
      expect(all.map((event) => event.eventId)).toEqual([...stored].reverse());
      // What the previous release could not know reads as such: browser events without identity or attribution.
      expect(all.every((event) => event.source === 'browser' && event.userId === null && event.country === null && event.attribution === null)).toBe(true);

      // A replay of a stored event received within the window is refused as a duplicate; a new event is stored.
      const replay = stored.at(-1) ?? '';
      const fresh = randomUUID();
      const collected = await ctx.app.inject({
        method: 'POST',
        url: '/v1/collect',
        headers: { 'content-type': 'application/json', 'user-agent': CHROME_UA, origin: `https://${tag.domain}` },
        payload: JSON.stringify({
          tagId: tag.tagId,
          events: [replay, fresh].map((eventId) => ({ eventId, type: 'page_view', url: `https://${tag.domain}/new`, timestamp: new Date().toISOString() })),
        }),
      });
      expect(collected.statusCode, collected.body).toBe(202);
      const counts = await queryRows<{ event_id: string; n: number }>(
        handle,
        sql`select event_id::text, count(*)::int as n from events where event_id in (${replay}::uuid, ${fresh}::uuid) group by 1`,
      );
      expect(Object.fromEntries(counts.map((row) => [row.event_id, row.n]))).toEqual({ [replay]: 1, [fresh]: 1 });
      const [newRow] = await queryRows<{ id: string }>(handle, sql`select id::text from events where event_id = ${fresh}::uuid`);
      expect(BigInt(newRow?.id ?? 0)).toBeGreaterThan(BigInt(lastOldId));

      // A stream that last saw the third-newest old event resumes with the two after it, then the new one.
      const url = await ctx.app.listen({ port: 0, host: '127.0.0.1' });
      const thirdNewest = all[2]?.id ?? '';
      const stream = await SseClient.open(`${url}/v1/partners/events/stream?merchantId=${tag.merchantId}`, { ...bearer(tag.token), 'last-event-id': thirdNewest });
      const received = await stream.waitForEvents(3);
      stream.close();
      expect(received.map((message) => (JSON.parse(message.data ?? '{}') as ApiEvent).eventId)).toEqual([stored.at(-2), stored.at(-1), fresh]);
    } finally {
      await ctx.app.close();
      await drop();
    }
  }, 120_000);
});
