import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import { describe, expect, it, vi } from 'vitest';
import type { DatabaseHandle } from '../src/db/client.js';
import { startEmbeddedMaintenance, tablesDue, type TableActivity } from '../src/db/maintenance.js';
import { engine, queryRows, testDatabase } from './helpers/database.js';

const log = { warn: () => undefined } as unknown as FastifyBaseLogger;

/** Counts the statements a handle is asked to run, and runs them on the real database. */
function counting(handle: DatabaseHandle, as: DatabaseHandle['engine']): { handle: DatabaseHandle; statements: string[] } {
  const statements: string[] = [];
  const db = new Proxy(handle.db, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (property !== 'execute' || typeof value !== 'function') return value;
      return (query: unknown) => {
        statements.push(String(query));
        return (value as (q: unknown) => unknown).call(target, query);
      };
    },
  });
  return { handle: { ...handle, engine: as, db } as DatabaseHandle, statements };
}

const table = (activity: Partial<TableActivity>): TableActivity => ({
  schema: 'public',
  name: 't',
  live: 0,
  dead: 0,
  modifiedSinceAnalyze: 0,
  insertedSinceVacuum: 0,
  options: null,
  ...activity,
});

describe('tablesDue: autovacuum’s rules', () => {
  it('analyzes after 50 + 10% of the rows changed, vacuums after 50 + 20% died or 1,000 + 20% were inserted', () => {
    expect(tablesDue([table({ live: 1000, modifiedSinceAnalyze: 150 })])).toEqual([]);
    expect(tablesDue([table({ live: 1000, modifiedSinceAnalyze: 151 })])).toEqual([{ schema: 'public', name: 't', vacuum: false }]);
    expect(tablesDue([table({ live: 1000, dead: 251 })])).toEqual([{ schema: 'public', name: 't', vacuum: true }]);
    expect(tablesDue([table({ live: 10_000, insertedSinceVacuum: 3000 })])).toEqual([]);
    expect(tablesDue([table({ live: 10_000, insertedSinceVacuum: 3001 })])).toEqual([{ schema: 'public', name: 't', vacuum: true }]);
    // A table never analyzed counts no live rows: 51 new rows are enough.
    expect(tablesDue([table({ modifiedSinceAnalyze: 51 })])).toEqual([{ schema: 'public', name: 't', vacuum: false }]);
  });

  it('follows a table’s own storage parameters, as the events table sets them', () => {
    const events = { live: 1_000_000, insertedSinceVacuum: 20_001, options: ['autovacuum_vacuum_insert_scale_factor=0.01', 'autovacuum_vacuum_insert_threshold=10000'] };
    expect(tablesDue([table(events)])).toEqual([{ schema: 'public', name: 't', vacuum: true }]);
    expect(tablesDue([table({ ...events, insertedSinceVacuum: 19_999 })])).toEqual([]);
    expect(tablesDue([table({ ...events, options: ['fillfactor=90', 'nonsense', 'autovacuum_vacuum_insert_threshold=x'] })])).toEqual([]);
  });
});

describe('embedded database maintenance', () => {
  it.runIf(engine === 'pglite')('analyzes a table that grew and vacuums one whose rows died, on PGlite, which has no autovacuum', async () => {
    const database = await testDatabase();
    const name = `grown_${randomUUID().slice(0, 8)}`;
    await database.db.execute(sql`create table ${sql.identifier(name)} (x int)`);
    const stats = async () =>
      (await queryRows<{ tuples: number; vacuumed: boolean }>(
        database,
        sql`select c.reltuples::float8 as tuples, s.last_vacuum is not null as vacuumed
            from pg_class c join pg_stat_user_tables s on s.relid = c.oid where c.relname = ${name}`,
      ))[0];
    const stop = startEmbeddedMaintenance(database, log, 20);
    try {
      await database.db.execute(sql`insert into ${sql.identifier(name)} select generate_series(1, 5000)`);
      // The planner learns the table's size without anyone running ANALYZE.
      await vi.waitFor(async () => expect((await stats())?.tuples).toBe(5000), { timeout: 15_000, interval: 50 });
      await database.db.execute(sql`delete from ${sql.identifier(name)} where x <= 3000`);
      await vi.waitFor(async () => expect(await stats()).toEqual({ tuples: 2000, vacuumed: true }), { timeout: 15_000, interval: 50 });
    } finally {
      stop();
      await database.db.execute(sql`drop table ${sql.identifier(name)}`);
    }
  }, 40_000);

  it('leaves PostgreSQL servers to their autovacuum', async () => {
    const { handle, statements } = counting(await testDatabase(), 'postgres');
    const stop = startEmbeddedMaintenance(handle, log, 20);
    await new Promise((resolve) => setTimeout(resolve, 100));
    stop();
    expect(statements).toEqual([]);
  });
});
