import type { SQL } from 'drizzle-orm';
import { openPglite, openPostgres, type DatabaseHandle } from '../../src/db/client.js';
import { migrate } from '../../src/db/migrate.js';

let shared: Promise<DatabaseHandle> | undefined;

/** The engine under test: PostgreSQL when TEST_DATABASE_URL is set, else in-memory PGlite. */
export const engine = process.env.TEST_DATABASE_URL ? 'postgres' : 'pglite';

/** One migrated database per test worker, shared by every file it runs. Never closed by tests. */
export function testDatabase(): Promise<DatabaseHandle> {
  shared ??= (async () => {
    const url = process.env.TEST_DATABASE_URL;
    const handle = url ? openPostgres(url, { max: 4 }) : await openPglite(undefined);
    await migrate(handle);
    return handle;
  })();
  return shared;
}

/** Raw SQL for assertions; both drivers answer `{ rows }`. */
export async function queryRows<T>(handle: DatabaseHandle, query: SQL): Promise<T[]> {
  const result: unknown = await handle.db.execute(query);
  return (result as { rows: T[] }).rows;
}
