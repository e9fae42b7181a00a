import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPglite, openPostgres, type PostgresHandle } from '../src/db/client.js';
import { isDatabaseUnavailable, sqlState } from '../src/db/errors.js';
import { bearer, createTestApp, errorOf } from './helpers/app.js';
import { engine } from './helpers/database.js';
import { createMerchant, createPartner } from './helpers/factories.js';
import { TcpProxy } from './helpers/tcp-proxy.js';

const url = process.env.TEST_DATABASE_URL ?? '';

/** Backends still running a statement whose text contains `marker` (from any client). */
async function running(marker: string): Promise<number> {
  const observer = new pg.Client({ connectionString: url });
  await observer.connect();
  try {
    const { rows } = await observer.query<{ n: string }>(
      `select count(*) as n from pg_stat_activity where state = 'active' and query like $1 and pid <> pg_backend_pid()`,
      [`%${marker}%`],
    );
    return Number(rows[0]?.n ?? 0);
  } finally {
    await observer.end();
  }
}

describe.runIf(engine === 'postgres')('the statement timeout (PostgreSQL cancels long statements)', () => {
  let database: PostgresHandle;
  beforeAll(() => {
    database = openPostgres(url, { statementTimeoutMillis: 500 });
  });
  afterAll(async () => database.close());

  it('cancels a statement in the server itself: the backend no longer runs it, and the error reads as unavailable', async () => {
    const marker = `sleepy_${randomUUID().slice(0, 8)}`;
    const started = Date.now();
    const error: unknown = await database.pool.query(`select pg_sleep(5) as ${marker}`).catch((caught: unknown) => caught);
    expect(sqlState(error)).toBe('57014');
    expect(isDatabaseUnavailable(error)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(450);
    expect(Date.now() - started).toBeLessThan(2500);
    expect(await running(marker)).toBe(0);
    // The connection itself is fine: the pool goes on using it.
    expect((await database.pool.query<{ one: number }>('select 1 as one')).rows).toEqual([{ one: 1 }]);
  });

  it('applies to prepared hot-path statements and checked-out clients too', async () => {
    const run: unknown = await database.run({ name: 'sleepy', text: 'select pg_sleep($1)' }, [5]).catch((caught: unknown) => caught);
    expect(sqlState(run)).toBe('57014');
    const client = await database.pool.connect();
    try {
      expect(sqlState(await client.query('select pg_sleep(5)').catch((caught: unknown) => caught))).toBe('57014');
    } finally {
      client.release();
    }
  });

  it('leaves statements that finish in time alone, however many run at once', async () => {
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => database.pool.query<{ n: number }>('select $1::int as n, pg_sleep(0.3)', [i])),
    );
    expect(answers.map((answer) => answer.rows[0]?.n)).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('answers a request whose query waits too long 503 SERVICE_UNAVAILABLE in the envelope, and stops the query', async () => {
    const ctx = await createTestApp({}, { database });
    const blocker = new pg.Client({ connectionString: url });
    await blocker.connect();
    try {
      const { token } = await createPartner(ctx.app);
      await createMerchant(ctx.app, token);
      // Another session holds the merchants table: the list waits for the lock until PostgreSQL gives up.
      await blocker.query('begin');
      await blocker.query('lock table merchants in access exclusive mode');
      const started = Date.now();
      const response = await ctx.app.inject({ method: 'GET', url: '/v1/partners/merchant', headers: bearer(token) });
      expect(Date.now() - started).toBeLessThan(4000);
      expect(response.statusCode, response.body).toBe(503);
      expect(errorOf(response).code).toBe('SERVICE_UNAVAILABLE');
      expect(response.headers['retry-after']).toBeDefined();
      expect(await running('"merchants"')).toBe(0);
    } finally {
      await blocker.query('rollback');
      await blocker.end();
      await ctx.app.close();
    }
  });
});

describe.runIf(engine === 'postgres')('the stall guard (a dead network)', () => {
  let proxy: TcpProxy;
  let database: PostgresHandle;
  beforeAll(async () => {
    const target = new URL(url);
    proxy = await TcpProxy.start(target.hostname, Number(target.port || 5432));
    const proxied = new URL(target);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(proxy.port);
    database = openPostgres(proxied.toString(), { statementTimeoutMillis: 300, stallTimeoutMillis: 600, max: 2 });
  });
  afterAll(async () => {
    await database.close();
    await proxy.close();
  });

  it('leaves an idle connection alone however long it idles', async () => {
    const pid = async () => (await database.pool.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid;
    const first = await pid();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await pid()).toBe(first);
  });

  it('fails a query that hears nothing, as unavailable, and the pool recovers on a fresh connection', async () => {
    proxy.set('stall');
    try {
      const started = Date.now();
      const error: unknown = await database.pool.query('select 1').catch((caught: unknown) => caught);
      expect((error as Error).message).toBe('Query read timeout');
      expect(isDatabaseUnavailable(error)).toBe(true);
      expect(Date.now() - started).toBeGreaterThanOrEqual(550);
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      proxy.set('open');
    }
    expect((await database.pool.query<{ one: number }>('select 1 as one')).rows).toEqual([{ one: 1 }]);
  });
});

describe('the statement timeout on embedded PGlite', () => {
  it('is set with the same SQL (PGlite accepts it; it cannot interrupt its one connection)', async () => {
    const handle = await openPglite(undefined, 1234);
    try {
      expect((await handle.client.query<{ statement_timeout: string }>('show statement_timeout')).rows).toEqual([{ statement_timeout: '1234ms' }]);
    } finally {
      await handle.close();
    }
    // Starting a PGlite instance (WebAssembly) takes seconds on a busy machine.
  }, 60_000);
});
