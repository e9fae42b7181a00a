import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, type PostgresHandle } from '../src/db/client.js';
import { isDatabaseUnavailable } from '../src/db/errors.js';
import { engine } from './helpers/database.js';

describe.runIf(engine === 'postgres')('query watchdog (the pool’s query timeout)', () => {
  let database: PostgresHandle;
  beforeAll(() => {
    database = openPostgres(process.env.TEST_DATABASE_URL ?? '', { queryTimeoutMillis: 600 });
  });
  afterAll(async () => database.close());

  it('fails a query with no answer in time, as unavailable, and drops its connection', async () => {
    const started = Date.now();
    const error: unknown = await database.pool.query('select pg_sleep(5)').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe('Query read timeout');
    expect(isDatabaseUnavailable(error)).toBe(true);
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    expect(Date.now() - started).toBeLessThan(1500);
    // The pool answers at once on a fresh connection.
    expect((await database.pool.query<{ one: number }>('select 1 as one')).rows).toEqual([{ one: 1 }]);
  });

  it('watches queries on a checked-out client (promises) and through the query builder', async () => {
    const client = await database.pool.connect();
    try {
      const error: unknown = await client.query('select pg_sleep(5)').catch((caught: unknown) => caught);
      expect((error as Error).message).toBe('Query read timeout');
    } finally {
      client.release(true);
    }
    const run: unknown = await database.run({ name: 'sleepy', text: 'select pg_sleep($1)' }, [5]).catch((caught: unknown) => caught);
    expect((run as Error).message).toBe('Query read timeout');
  });

  it('leaves queries that answer in time alone, however many run at once', async () => {
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => database.pool.query<{ n: number }>('select $1::int as n, pg_sleep(0.3)', [i])),
    );
    expect(answers.map((answer) => answer.rows[0]?.n)).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });
});
