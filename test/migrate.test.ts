import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { openPostgres } from '../src/db/client.js';
import { migrate } from '../src/db/migrate.js';
import { engine } from './helpers/database.js';

describe.runIf(engine === 'postgres')('migrations on PostgreSQL', () => {
  it('wait for another instance’s migrations however long they take, beyond the request timeout', async () => {
    const url = process.env.TEST_DATABASE_URL ?? '';
    // Another instance, mid-migration: it holds the migration lock for a second.
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    await other.query('select pg_advisory_lock(7305826411)');
    const release = setTimeout(() => void other.query('select pg_advisory_unlock(7305826411)'), 1000);
    const handle = openPostgres(url, { statementTimeoutMillis: 300, stallTimeoutMillis: 300 });
    try {
      const started = Date.now();
      await migrate(handle);
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      expect((await handle.pool.query<{ n: string }>('select count(*) as n from drizzle.__drizzle_migrations')).rows[0]?.n).not.toBe('0');
    } finally {
      clearTimeout(release);
      await handle.close();
      await other.end();
    }
  });
});
