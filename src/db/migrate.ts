import { fileURLToPath } from 'node:url';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migrateNodePg } from 'drizzle-orm/node-postgres/migrator';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import type { DatabaseHandle } from './client.js';
import { buildPartitionIndexes } from './partition-indexes.js';
import { ensurePartitions } from './partitions.js';
import { pgliteSession, pgSession } from './session.js';

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('./migrations', import.meta.url));

/** Arbitrary, fixed: serialises migrations when several instances start at once. */
const MIGRATION_LOCK_ID = 7_305_826_411;

export interface MigrateOptions {
  /**
   * `now`: build the partition indexes the migrations declared before returning (`marktag migrate`,
   * tests). `later`: leave them to the storage upkeep the server starts once it listens, so that an
   * upgrade's index builds never keep a starting server from ingesting (queries work meanwhile, a
   * partition being indexed is read more slowly).
   */
  partitionIndexes: 'now' | 'later';
}

/**
 * Applies the committed SQL migrations that have not run yet, then creates the partitions of the
 * weeks around now and, unless told `later`, builds the partition indexes (outside the migrations'
 * transaction, concurrently on PostgreSQL). Safe to call from many processes.
 */
export async function migrate(handle: DatabaseHandle, options: MigrateOptions = { partitionIndexes: 'now' }): Promise<void> {
  if (handle.engine === 'pglite') {
    await migratePglite(drizzlePglite({ client: handle.client }), { migrationsFolder: MIGRATIONS_FOLDER });
    const session = pgliteSession(handle.client);
    await ensurePartitions(session, new Date());
    if (options.partitionIndexes === 'now') await buildPartitionIndexes(session, false);
    return;
  }
  // A session lock on a dedicated connection (released by the server if this process dies), outside
  // the pool, whose statement timeout and stall guard are for requests: waiting for another instance's migrations, or
  // building an index of a big partition, takes as long as it takes.
  const connection = await dedicatedConnection(handle.connectionString, 'marktag-migrate');
  try {
    await connection.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    try {
      await migrateNodePg(drizzlePg({ client: connection }), { migrationsFolder: MIGRATIONS_FOLDER });
      await ensurePartitions(pgSession(connection), new Date());
    } finally {
      await connection.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]);
    }
    if (options.partitionIndexes === 'now') {
      // Under the upkeep's lock: a server's upkeep does not build the same index meanwhile.
      await connection.query('select pg_advisory_lock($1)', [UPKEEP_LOCK_ID]);
      try {
        await buildPartitionIndexes(pgSession(connection), true);
      } finally {
        await connection.query('select pg_advisory_unlock($1)', [UPKEEP_LOCK_ID]);
      }
    }
  } finally {
    await connection.end();
  }
}

/** Arbitrary, fixed: one process at a time does the storage chores (index builds, partitions, pruning). */
export const UPKEEP_LOCK_ID = 7_305_826_414;

/** A connection of its own, with no statement timeout whatever the role's default: an index build takes as long as it takes. */
export async function dedicatedConnection(connectionString: string, applicationName: string): Promise<pg.Client> {
  const connection = new pg.Client({ connectionString, application_name: applicationName, options: '-c statement_timeout=0' });
  await connection.connect();
  return connection;
}
