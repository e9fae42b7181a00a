import type { SqlSession } from './session.js';

/** A replay of an event received this recently (or more, until the next pruning) is recognised and skipped. */
export const DEDUPLICATION_WINDOW_DAYS = 7;

/** Keys deleted a statement: short statements, so the collector's inserts never wait long on one. */
const PRUNE_CHUNK = 10_000;

/** Deletes the keys that left the deduplication window; returns how many. */
export async function pruneEventKeys(session: SqlSession, windowDays = DEDUPLICATION_WINDOW_DAYS): Promise<number> {
  let deleted = 0;
  for (;;) {
    const [row] = await session.query<{ n: number | string }>(
      `with gone as (
         delete from event_keys where ctid = any(array(
           select ctid from event_keys where received_at < now() - make_interval(days => $1::int) limit ${PRUNE_CHUNK}))
         returning 1)
       select count(*)::int as n from gone`,
      [windowDays],
    );
    const n = Number(row?.n ?? 0);
    deleted += n;
    if (n < PRUNE_CHUNK) return deleted;
  }
}
