import { openPostgres } from '../../src/db/client.js';
import { migrate } from '../../src/db/migrate.js';
import { buildTracker } from '../../tracker/build.js';

/**
 * Builds the tracker. On PostgreSQL (TEST_DATABASE_URL), start from an empty schema and migrate once, before any
 * worker starts. On PGlite every worker opens its own in-memory database instead.
 */
export default async function setup(): Promise<void> {
  // The collector serves the built tracker: build it from the current source.
  await buildTracker();
  const url = process.env.TEST_DATABASE_URL;
  if (!url) return;
  const database = openPostgres(url, { max: 1 });
  try {
    await database.pool.query('drop schema if exists public cascade; drop schema if exists drizzle cascade; create schema public;');
    await migrate(database);
  } finally {
    await database.close();
  }
}
