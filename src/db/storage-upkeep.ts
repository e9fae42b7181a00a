import type { FastifyBaseLogger } from 'fastify';
import type { DatabaseHandle } from './client.js';
import { pruneEventKeys } from './event-keys.js';
import { dedicatedConnection, UPKEEP_LOCK_ID } from './migrate.js';
import { buildPartitionIndexes } from './partition-indexes.js';
import { ensurePartitions } from './partitions.js';
import { pgliteSession, pgSession, type SqlSession } from './session.js';

const EVERY_MS = 3600_000;

export interface UpkeepDone {
  indexesBuilt: number;
  partitions: string[];
  keysPruned: number;
}

/**
 * The chores of the events' storage, run by every process, by one at a time: the partition indexes
 * an upgrade left to build, the partitions ahead, expired keys out. On PostgreSQL on a connection
 * of its own, outside the pool, whose statement timeout and stall guard are for requests (an index
 * build sends nothing for minutes). Undefined when another process holds the chores.
 */
export async function runStorageUpkeep(database: DatabaseHandle, now = new Date()): Promise<UpkeepDone | undefined> {
  const chores = async (session: SqlSession, concurrently: boolean): Promise<UpkeepDone> => ({
    indexesBuilt: await buildPartitionIndexes(session, concurrently),
    partitions: await ensurePartitions(session, now),
    keysPruned: await pruneEventKeys(session),
  });
  if (database.engine === 'pglite') return chores(pgliteSession(database.client), false);
  const connection = await dedicatedConnection(database.connectionString, 'marktag-upkeep');
  try {
    const [lock] = (await connection.query<{ locked: boolean }>('select pg_try_advisory_lock($1) as locked', [UPKEEP_LOCK_ID])).rows;
    if (!lock?.locked) return undefined;
    try {
      return await chores(pgSession(connection), true);
    } finally {
      await connection.query('select pg_advisory_unlock($1)', [UPKEEP_LOCK_ID]);
    }
  } finally {
    await connection.end();
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
      if (done && (done.indexesBuilt > 0 || done.partitions.length > 0 || done.keysPruned > 0)) log.info(done, 'events storage upkeep');
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
