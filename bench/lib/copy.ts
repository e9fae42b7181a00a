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
  /** Its share of the load against the other owners' (default 1). */
  weight?: number;
  /** How many days back its events go (default: the load's `days`). */
  days?: number;
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

const DAY_MS = 24 * 3600 * 1000;

/** Where row `i` of a load goes: its owner and its event time (ms). */
type Placement = (i: number) => { owner: Owner; time: number };

/** The plain load: owners in turn, times at random over the last `days` days. */
function uniform(owners: Owner[], days: number, now: number): Placement {
  return (i) => ({ owner: owners[i % owners.length] as Owner, time: now - Math.random() * days * DAY_MS });
}

/**
 * A shaped load (owners with a `weight` or `days`): each owner gets `count × weight / Σ weights`
 * rows spread evenly over its own last `days` days, and the rows come in time order, oldest first,
 * as a collector would have written them (ids and heap order follow event time).
 */
function shaped(owners: Owner[], count: number, days: number, now: number): Placement {
  const total = owners.reduce((sum, owner) => sum + (owner.weight ?? 1), 0);
  const spans = owners.map((owner) => owner.days ?? days);
  // Rows a day of each owner; the distinct spans cut the time axis into segments of constant density.
  const density = owners.map((owner, o) => (count * (owner.weight ?? 1)) / total / (spans[o] as number));
  const edges = [...new Set(spans)].sort((a, b) => b - a); // days ago, oldest first
  interface Segment { first: number; rows: number; from: number; to: number; cumulative: number[]; members: Owner[] }
  const segments: Segment[] = [];
  let placed = 0;
  edges.forEach((from, k) => {
    const to = edges[k + 1] ?? 0;
    const members: Owner[] = [];
    const cumulative: number[] = [];
    let rate = 0;
    owners.forEach((owner, o) => {
      if ((spans[o] as number) < from) return;
      rate += density[o] as number;
      members.push(owner);
      cumulative.push(rate);
    });
    const rows = k === edges.length - 1 ? count - placed : Math.round(rate * (from - to));
    segments.push({ first: placed, rows, from, to, cumulative: cumulative.map((c) => c / rate), members });
    placed += rows;
  });
  let segment = 0;
  return (i) => {
    while (segment < segments.length - 1 && i >= (segments[segment + 1] as Segment).first) segment++;
    const s = segments[segment] as Segment;
    // Owner by density (binary search of the cumulative shares), time by position in the segment.
    const roll = Math.random();
    let lo = 0;
    let hi = s.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((s.cumulative[mid] as number) < roll) lo = mid + 1;
      else hi = mid;
    }
    const age = s.from - ((s.from - s.to) * (i - s.first + Math.random())) / Math.max(1, s.rows);
    return { owner: s.members[lo] as Owner, time: now - age * DAY_MS };
  };
}

/** Rows `start` to `start + count` of a load, as COPY text rows, ids from `firstId` + 1. */
function* rows(place: Placement, start: number, count: number, firstId: bigint): Generator<string> {
  let chunk = '';
  for (let n = 0; n < count; n++) {
    const i = start + n;
    const id = firstId + BigInt(n + 1);
    const { owner, time: ms } = place(i);
    const type = pickType();
    const time = new Date(ms).toISOString();
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

/**
 * COPY `count` rows into events, in transactions of at most 1,000,000 rows; returns rows per second
 * (of the COPY and its keys; the vacuum after it is not counted). Owners without `weight` or `days`
 * share the rows equally over the last `days` days in random time order; otherwise the load is
 * shaped (see `shaped`). `onProgress` hears of each committed transaction.
 */
export async function copyEvents(
  databaseUrl: string,
  owners: Owner[],
  count: number,
  days = 30,
  onProgress?: (done: number, seconds: number) => void,
): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const now = Date.now();
    const isShaped = owners.some((owner) => owner.weight !== undefined || owner.days !== undefined);
    const span = Math.max(days, ...owners.map((owner) => owner.days ?? days));
    const place = isShaped ? shaped(owners, count, days, now) : uniform(owners, days, now);
    await createWeeks(pgSession(client), new Date(now - span * DAY_MS), new Date(now + 1));
    const started = performance.now();
    for (let done = 0; done < count; done += ROWS_PER_TRANSACTION) {
      const rowsNow = Math.min(ROWS_PER_TRANSACTION, count - done);
      await client.query('begin');
      const [first] = (await client.query<{ first: string }>(`select (base + (pg_current_xact_id()::text::bigint << 20))::text as first from event_id_base`)).rows;
      const firstId = BigInt(first?.first ?? 0);
      await pipeline(Readable.from(rows(place, done, rowsNow, firstId)), client.query(copyFrom(`copy events (${COLUMNS}) from stdin`)));
      // The keys of the deduplication window, as the collector writes them.
      await client.query(
        `insert into event_keys (tag_id, event_id, received_at) select tag_id, event_id, received_at from events
         where id > $1 and id <= $2 and received_at > now() - interval '7 days' on conflict do nothing`,
        [firstId.toString(), (firstId + BigInt(rowsNow)).toString()],
      );
      await client.query('commit');
      onProgress?.(done + rowsNow, (performance.now() - started) / 1000);
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
