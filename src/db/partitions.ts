import { partitionIndexName, partitionIndexStatement, quote } from './partition-indexes.js';
import type { SqlSession } from './session.js';

/**
 * The weekly partitions of the events table (Monday 00:00 UTC to the next Monday). Created ahead,
 * at start and hourly (src/db/storage-upkeep.ts), so that an insert always finds its week; an event
 * whose week has none (a client clock far in the past) lands in `events_default`, and moves into
 * its week's partition if one is ever created for it.
 */

const DAY_MS = 24 * 3600 * 1000;
const WEEK_MS = 7 * DAY_MS;
/** Weeks created ahead of the current one: a month of server downtime before inserts hit the default. */
export const WEEKS_AHEAD = 4;
/** A partition waits at most this long for its locks, then gives up until the next run (no queue forms behind it). */
const LOCK_TIMEOUT = '5s';

/** The Monday 00:00 UTC on or before `time`. */
export function weekStart(time: Date): Date {
  const day = new Date(Date.UTC(time.getUTCFullYear(), time.getUTCMonth(), time.getUTCDate()));
  return new Date(day.getTime() - ((day.getUTCDay() + 6) % 7) * DAY_MS);
}

/** `events_w20261130` for the week starting on Monday 2026-11-30. */
export function partitionName(start: Date): string {
  return `events_w${start.toISOString().slice(0, 10).replaceAll('-', '')}`;
}

interface Bound {
  name: string;
  lo: Date | null;
  hi: Date | null;
  is_default: boolean;
}

const BOUNDS = `
  select c.relname as name,
         (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']*)''\\)'))[1]::timestamptz as lo,
         (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']*)''\\)'))[1]::timestamptz as hi,
         pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT' as is_default
  from pg_inherits i join pg_class c on c.oid = i.inhrelid
  where i.inhparent = to_regclass('events')`;

/** The partitions there are, with their ranges (null: unbounded, MINVALUE or MAXVALUE). */
export async function partitionBounds(session: SqlSession): Promise<Bound[]> {
  const rows = await session.query<{ name: string; lo: Date | string | null; hi: Date | string | null; is_default: boolean }>(BOUNDS);
  const date = (value: Date | string | null) => (value === null ? null : new Date(value));
  return rows.map((row) => ({ name: row.name, lo: date(row.lo), hi: date(row.hi), is_default: row.is_default }));
}

const PARENT_INDEXES = `
  select c.relname as name, pg_get_indexdef(c.oid) as definition
  from pg_index x join pg_class c on c.oid = x.indexrelid
  where x.indrelid = to_regclass('events') order by c.relname`;

/**
 * Creates the weekly partitions covering [from, to) that no partition covers yet: standalone
 * tables attached afterwards, which locks the parent only against other DDL (inserts and reads go
 * on), and the default partition briefly, for the strays it may hold of that week (moved in, in the
 * same transaction). Returns the partitions created.
 */
export async function createWeeks(session: SqlSession, from: Date, to: Date): Promise<string[]> {
  const existing = (await partitionBounds(session)).filter((bound) => !bound.is_default);
  const created: string[] = [];
  for (let start = weekStart(from); start < to; start = new Date(start.getTime() + WEEK_MS)) {
    const end = new Date(start.getTime() + WEEK_MS);
    const overlaps = existing.some((bound) => (bound.lo === null || bound.lo < end) && (bound.hi === null || bound.hi > start));
    if (overlaps) continue;
    const partition = partitionName(start);
    const name = quote(partition);
    const lo = `'${start.toISOString()}'`;
    const hi = `'${end.toISOString()}'`;
    await session.transaction(async (tx) => {
      await tx.query(`set local lock_timeout = '${LOCK_TIMEOUT}'`);
      await tx.query(`create table ${name} (like "events" including defaults including constraints)`);
      // Append-only: vacuumed for its visibility map (index-only scans) long before 20% growth.
      await tx.query(`alter table ${name} set (autovacuum_vacuum_insert_scale_factor = 0.01, autovacuum_vacuum_insert_threshold = 10000)`);
      await tx.query(
        `with moved as (delete from "events_default" where "timestamp" >= ${lo} and "timestamp" < ${hi} returning *) insert into ${name} select * from moved`,
      );
      // Its indexes, named like every partition's, built before the attach (which then adopts them).
      for (const index of await tx.query<{ name: string; definition: string }>(PARENT_INDEXES)) {
        await tx.query(partitionIndexStatement(index.definition, partitionIndexName(partition, index.name), partition, false));
      }
      await tx.query(`alter table "events" attach partition ${name} for values from (${lo}) to (${hi})`);
    });
    created.push(partition);
  }
  return created;
}

/** The partitions of last week, this week and the weeks ahead. */
export async function ensurePartitions(session: SqlSession, now: Date): Promise<string[]> {
  const thisWeek = weekStart(now);
  return createWeeks(session, new Date(thisWeek.getTime() - WEEK_MS), new Date(thisWeek.getTime() + (WEEKS_AHEAD + 1) * WEEK_MS));
}
