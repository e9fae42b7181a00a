import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { quote } from '../../src/db/partition-indexes.js';
import { createWeeks, partitionBounds, partitionName, weekStart } from '../../src/db/partitions.js';
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

/** Event types with their shares of the rows (summing to 1). */
export type TypeMix = readonly (readonly [type: string, share: number])[];

/** A realistic mix: mostly page views, a few conversions, and one type that almost never occurs. */
export const DEFAULT_MIX: TypeMix = [
  ['page_view', 0.7],
  ['scroll', 0.089],
  ['add_to_cart', 0.1],
  ['begin_checkout', 0.05],
  ['purchase', 0.03],
  ['lead', 0.02],
  ['sign_up', 0.01],
  ['rare_type', 0.001],
];

function pickType(mix: TypeMix): string {
  let roll = Math.random();
  for (const [type, share] of mix) {
    roll -= share;
    if (roll <= 0) return type;
  }
  return mix[0]?.[0] ?? 'page_view';
}

export interface CopyOptions {
  /** Days of history, ending now, over which event times are spread uniformly (30). */
  days?: number;
  /** The types and their shares (DEFAULT_MIX). */
  mix?: TypeMix;
  /** The owner (partner, merchant, tag) of the i-th row: the owners in turn unless given. */
  owner?: (i: number) => Owner;
  /** The visitor of a row, who has 7 sessions: one of 50,000 drawn uniformly unless given. */
  visitor?: () => string;
  /**
   * Rows in time order, as they arrive in production (ids then follow event time), instead of at
   * random times: each partition and each index is then written at a few places at a time, which
   * loads several times faster on a machine whose indexes outgrow shared_buffers.
   */
  inTimeOrder?: boolean;
  /**
   * Loads the weeks' partitions without their indexes, then builds them (sorted, as CREATE INDEX
   * does: several times cheaper than a million rows inserted into eight indexes one by one). The
   * partitions are detached for the load and attached again, in its transaction; takes rows in
   * time order and at most one transaction's rows.
   */
  indexesAfter?: boolean;
  /** Hears of each committed transaction: rows done, seconds since the load began. */
  onProgress?: (done: number, seconds: number) => void;
}

// With the attribution a collector derives (Direct, the page's path), so that COPY writes what the collector writes.
const COLUMNS = 'id, event_id, tag_id, merchant_id, partner_id, type, timestamp, received_at, url, visitor_id, session_id, value, currency, device_type, device_browser, device_os, attr_source, attr_medium, channel, landing_page';

/** Rows a transaction: ids leave 20 bits to a row's ordinal within its transaction (src/db/schema/events.ts). */
const ROWS_PER_TRANSACTION = 1_000_000;

const DAY_MS = 24 * 3600 * 1000;

/** Where row `i` of a load goes: its owner and its event time (ms). */
type Placement = (i: number) => { owner: Owner; time: number };

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

interface RowShape {
  mix: TypeMix;
  place: Placement;
  visitor: () => string;
  /** Chunks end where a row's week differs from the previous row's (indexesAfter: one COPY a partition). */
  byWeek: boolean;
}

interface Chunk {
  /** The Monday (ms since the epoch) of its rows, with byWeek; else 0. */
  week: number;
  text: string;
}

/** `count` events of the given shape, as chunks of COPY text rows, ids from `firstId` + 1; `offset` numbers the rows across transactions. */
function* rows(shape: RowShape, count: number, offset: number, firstId: bigint): Generator<Chunk> {
  let chunk = '';
  let week = 0;
  for (let i = 0; i < count; i++) {
    const id = firstId + BigInt(i + 1);
    const { owner, time: ms } = shape.place(offset + i);
    const type = pickType(shape.mix);
    const at = new Date(ms);
    const time = at.toISOString();
    if (shape.byWeek) {
      const rowWeek = weekStart(at).getTime();
      if (rowWeek !== week && chunk) {
        yield { week, text: chunk };
        chunk = '';
      }
      week = rowWeek;
    }
    const visitor = shape.visitor();
    const conversion = type === 'purchase' ? `${(Math.random() * 200).toFixed(2)}\tEUR` : '\\N\t\\N';
    chunk += `${id}\t${randomUUID()}\t${owner.tagId}\t${owner.merchantId}\t${owner.partnerId}\t${type}\t${time}\t${time}\thttps://shop.bench.test/p/${i % 500}\t${visitor}\t${visitor}-s${i % 7}\t${conversion}\tdesktop\tChrome\tWindows\t(direct)\t(none)\tDirect\t/p/${i % 500}\n`;
    if (chunk.length > 256 * 1024) {
      yield { week, text: chunk };
      chunk = '';
    }
  }
  if (chunk) yield { week, text: chunk };
}

const texts = function* (chunks: Iterable<Chunk>): Generator<string> {
  for (const chunk of chunks) yield chunk.text;
};

/** COPYs the chunks of each week straight into its partition, one COPY a week (chunks come in week order). */
async function copyByWeek(client: pg.Client, chunks: Iterator<Chunk>): Promise<void> {
  let next = chunks.next();
  while (!next.done) {
    const week = next.value.week;
    const group = function* (): Generator<string> {
      while (!next.done && next.value.week === week) {
        yield next.value.text;
        next = chunks.next();
      }
    };
    await pipeline(Readable.from(group()), client.query(copyFrom(`copy ${quote(partitionName(new Date(week)))} (${COLUMNS}) from stdin`)));
  }
}

/** Detaches the weekly partitions overlapping [from, to) and drops their indexes; returns them, to attach again. */
async function detachWeeks(client: pg.Client, from: Date, to: Date): Promise<{ name: string; lo: Date; hi: Date }[]> {
  const weeks = (await partitionBounds(pgSession(client))).flatMap((bound) =>
    !bound.is_default && bound.lo !== null && bound.hi !== null && bound.lo < to && bound.hi > from ? [{ name: bound.name, lo: bound.lo, hi: bound.hi }] : [],
  );
  for (const week of weeks) {
    await client.query(`alter table events detach partition ${quote(week.name)}`);
    const indexes = await client.query<{ name: string }>(`select indexrelid::regclass::text as name from pg_index where indrelid = $1::regclass`, [week.name]);
    for (const index of indexes.rows) await client.query(`drop index ${index.name}`);
  }
  return weeks;
}

/** COPY `count` rows into events (creating the weeks' partitions first), then vacuum analyze; returns rows per second. */
export async function copyEvents(databaseUrl: string, owners: Owner[], count: number, options: CopyOptions = {}): Promise<number> {
  const days = options.days ?? 30;
  const now = Date.now();
  const inTimeOrder = options.inTimeOrder ?? false;
  const isShaped = owners.some((owner) => owner.weight !== undefined || owner.days !== undefined);
  const owner = options.owner ?? ((i: number) => owners[i % owners.length] as Owner);
  // Shaped owners place their rows themselves (in time order); otherwise owners in turn, times at
  // random over the last `days` days, or evenly oldest first.
  const place: Placement = isShaped
    ? shaped(owners, count, days, now)
    : (i) => ({ owner: owner(i), time: now - (inTimeOrder ? 1 - (i + Math.random()) / count : Math.random()) * days * DAY_MS });
  const shape: RowShape = {
    mix: options.mix ?? DEFAULT_MIX,
    place,
    visitor: options.visitor ?? (() => `v${Math.floor(Math.random() * 50_000)}`),
    byWeek: options.indexesAfter ?? false,
  };
  if (shape.byWeek && (!(inTimeOrder || isShaped) || count > ROWS_PER_TRANSACTION)) {
    throw new Error('indexesAfter takes rows in time order, at most one transaction of them');
  }
  const span = Math.max(days, ...owners.map((o) => o.days ?? days));
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const from = new Date(now - span * DAY_MS);
    await createWeeks(pgSession(client), from, new Date(now + 1));
    const started = performance.now();
    for (let done = 0; done < count; done += ROWS_PER_TRANSACTION) {
      const rowsNow = Math.min(ROWS_PER_TRANSACTION, count - done);
      await client.query('begin');
      const [first] = (await client.query<{ first: string }>(`select (base + (pg_current_xact_id()::text::bigint << 20))::text as first from event_id_base`)).rows;
      const firstId = BigInt(first?.first ?? 0);
      if (shape.byWeek) {
        const weeks = await detachWeeks(client, from, new Date(Date.now() + 3600 * 1000));
        await copyByWeek(client, rows(shape, rowsNow, done, firstId));
        // Attaching builds the partition's missing indexes, each sorted in one pass.
        for (const week of weeks) {
          await client.query(`alter table events attach partition ${quote(week.name)} for values from ('${week.lo.toISOString()}') to ('${week.hi.toISOString()}')`);
        }
      } else {
        await pipeline(Readable.from(texts(rows(shape, rowsNow, done, firstId))), client.query(copyFrom(`copy events (${COLUMNS}) from stdin`)));
      }
      // The keys of the deduplication window, as the collector writes them.
      await client.query(
        `insert into event_keys (tag_id, event_id, received_at) select tag_id, event_id, received_at from events
         where id > $1 and id <= $2 and received_at > now() - interval '7 days' on conflict do nothing`,
        [firstId.toString(), (firstId + BigInt(rowsNow)).toString()],
      );
      await client.query('commit');
      options.onProgress?.(done + rowsNow, (performance.now() - started) / 1000);
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
