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

/**
 * Applies the committed SQL migrations that have not run yet, then builds the partition indexes
 * they declared (outside their transaction, concurrently on PostgreSQL) and the partitions of the
 * weeks ahead. Safe to call from many processes.
 */
export async function migrate(handle: DatabaseHandle): Promise<void> {
  if (handle.engine === 'pglite') {
    await migratePglite(drizzlePglite({ client: handle.client }), { migrationsFolder: MIGRATIONS_FOLDER });
    const session = pgliteSession(handle.client);
    await buildPartitionIndexes(session, false);
    await ensurePartitions(session, new Date());
    return;
  }
  // A session lock on a dedicated connection (released by the server if this process dies), outside
  // the pool, whose statement timeout and stall guard are for requests: waiting for another instance's migrations, or
  // rebuilding an index of a big table, takes as long as it takes.
  // No statement timeout either, whatever the role's default: a migration may rebuild a big index.
  const connection = new pg.Client({
    connectionString: handle.connectionString,
    application_name: 'marktag-migrate',
    options: '-c statement_timeout=0',
  });
  await connection.connect();
  try {
    await connection.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    try {
      await migrateNodePg(drizzlePg({ client: connection }), { migrationsFolder: MIGRATIONS_FOLDER });
      const session = pgSession(connection);
      await buildPartitionIndexes(session, true);
      await ensurePartitions(session, new Date());
    } finally {
      await connection.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]);
    }
  } finally {
    await connection.end();
  }
}
