import type { FastifyBaseLogger } from 'fastify';
import type { DatabaseHandle } from './client.js';
import { pruneEventKeys } from './event-keys.js';
import { ensurePartitions } from './partitions.js';
import { pgliteSession, pgSession, type SqlSession } from './session.js';

const EVERY_MS = 3600_000;
/** Arbitrary, fixed: one process at a time does the chores, whichever instances run. */
const UPKEEP_LOCK_ID = 7_305_826_414;

/** The chores of the events' storage, run by every process, by one at a time: partitions ahead, expired keys out. */
export async function runStorageUpkeep(database: DatabaseHandle, now = new Date()): Promise<{ partitions: string[]; keysPruned: number } | undefined> {
  const chores = async (session: SqlSession) => ({ partitions: await ensurePartitions(session, now), keysPruned: await pruneEventKeys(session) });
  if (database.engine === 'pglite') return chores(pgliteSession(database.client));
  const client = await database.pool.connect();
  try {
    // The pool's statement timeout is for requests; a move of strays out of the default partition may take longer.
    await client.query('set statement_timeout = 0');
    const [lock] = (await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1) as locked', [UPKEEP_LOCK_ID])).rows;
    if (!lock?.locked) return undefined; // another process is at it
    try {
      return await chores(pgSession(client));
    } finally {
      await client.query('select pg_advisory_unlock($1)', [UPKEEP_LOCK_ID]);
    }
  } finally {
    await client.query('reset statement_timeout').catch(() => undefined);
    client.release();
  }
}

/** Runs the chores now and hourly; returns the stop. A failure is logged and tried again at the next hour. */
export function startStorageUpkeep(database: DatabaseHandle, log: FastifyBaseLogger, everyMs = EVERY_MS): () => void {
  let running = false;
  const run = async () => {
    if (running) return;
    running = true;
    try {
      const done = await runStorageUpkeep(database);
      if (done && (done.partitions.length > 0 || done.keysPruned > 0)) log.info(done, 'events storage upkeep');
    } catch (error) {
      log.warn({ err: error }, 'events storage upkeep failed; will try again');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void run(), everyMs);
  timer.unref();
  void run();
  return () => clearInterval(timer);
}
