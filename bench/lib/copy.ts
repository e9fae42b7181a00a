import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { createWeeks } from '../../src/db/partitions.js';
import { pgSession } from '../../src/db/session.js';

export interface Owner {
  partnerId: string;
  merchantId: string;
  tagId: string;
}

/** A realistic mix: mostly page views, a few conversions, and one type that almost never occurs. */
const MIX: [string, number][] = [
  ['page_view', 0.7],
  ['scroll', 0.089],
  ['add_to_cart', 0.1],
  ['begin_checkout', 0.05],
  ['purchase', 0.03],
  ['lead', 0.02],
  ['sign_up', 0.01],
  ['rare_type', 0.001],
];

function pickType(): string {
  let roll = Math.random();
  for (const [type, share] of MIX) {
    roll -= share;
    if (roll <= 0) return type;
  }
  return 'page_view';
}

const COLUMNS = 'id, event_id, tag_id, merchant_id, partner_id, type, timestamp, received_at, url, visitor_id, session_id, value, currency, device_type, device_browser, device_os';

/** Rows a transaction: ids leave 20 bits to a row's ordinal within its transaction (src/db/schema/events.ts). */
const ROWS_PER_TRANSACTION = 1_000_000;

/** `count` events spread over `owners` and the last `days` days, as COPY text rows, ids from `firstId` + 1. */
function* rows(owners: Owner[], count: number, days: number, firstId: bigint): Generator<string> {
  const now = Date.now();
  const span = days * 24 * 3600 * 1000;
  let chunk = '';
  for (let i = 0; i < count; i++) {
    const id = firstId + BigInt(i + 1);
    const owner = owners[i % owners.length] as Owner;
    const type = pickType();
    const time = new Date(now - Math.random() * span).toISOString();
    const visitor = `v${Math.floor(Math.random() * 50_000)}`;
    const conversion = type === 'purchase' ? `${(Math.random() * 200).toFixed(2)}\tEUR` : '\\N\t\\N';
    chunk += `${id}\t${randomUUID()}\t${owner.tagId}\t${owner.merchantId}\t${owner.partnerId}\t${type}\t${time}\t${time}\thttps://shop.bench.test/p/${i % 500}\t${visitor}\t${visitor}-s${i % 7}\t${conversion}\tdesktop\tChrome\tWindows\n`;
    if (chunk.length > 256 * 1024) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

/** COPY `count` rows into events; returns rows per second. */
export async function copyEvents(databaseUrl: string, owners: Owner[], count: number, days = 30): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await createWeeks(pgSession(client), new Date(Date.now() - days * 24 * 3600 * 1000), new Date());
    const started = performance.now();
    for (let done = 0; done < count; done += ROWS_PER_TRANSACTION) {
      const rowsNow = Math.min(ROWS_PER_TRANSACTION, count - done);
      await client.query('begin');
      const [first] = (await client.query<{ first: string }>(`select (base + (pg_current_xact_id()::text::bigint << 20))::text as first from event_id_base`)).rows;
      const firstId = BigInt(first?.first ?? 0);
      await pipeline(Readable.from(rows(owners, rowsNow, days, firstId)), client.query(copyFrom(`copy events (${COLUMNS}) from stdin`)));
      // The keys of the deduplication window, as the collector writes them.
      await client.query(
        `insert into event_keys (tag_id, event_id, received_at) select tag_id, event_id, received_at from events
         where id > $1 and id <= $2 and received_at > now() - interval '7 days' on conflict do nothing`,
        [firstId.toString(), (firstId + BigInt(rowsNow)).toString()],
      );
      await client.query('commit');
    }
    const seconds = (performance.now() - started) / 1000;
    // What autovacuum does soon after a bulk load: statistics, and the visibility map.
    await client.query('vacuum analyze events');
    await client.query('vacuum analyze event_keys');
    // The load's dirty pages written out now, so that the measurements that follow do not share
    // the disk with the checkpoint the load would otherwise set off (needs a superuser or pg_checkpoint).
    await client.query('checkpoint').catch(() => undefined);
    return count / seconds;
  } finally {
    await client.end();
  }
}
