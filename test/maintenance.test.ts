import { sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import { describe, expect, it, vi } from 'vitest';
import type { DatabaseHandle } from '../src/db/client.js';
import { startEmbeddedMaintenance } from '../src/db/maintenance.js';
import { queryRows, testDatabase } from './helpers/database.js';

const log = { warn: () => undefined } as unknown as FastifyBaseLogger;

/** Counts the statements a handle is asked to run, and runs them on the real database. */
function counting(handle: DatabaseHandle, engine: DatabaseHandle['engine']): { handle: DatabaseHandle; statements: string[] } {
  const statements: string[] = [];
  const db = new Proxy(handle.db, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (property !== 'execute' || typeof value !== 'function') return value;
      return (query: { queryChunks?: { value?: string[] }[] }) => {
        statements.push((query.queryChunks ?? []).flatMap((chunk) => chunk.value ?? []).join(''));
        return (value as (q: unknown) => unknown).call(target, query);
      };
    },
  });
  return { handle: { ...handle, engine, db } as DatabaseHandle, statements };
}

describe('embedded database maintenance', () => {
  it('analyzes regularly and vacuums every sixth time on PGlite, which has no autovacuum', async () => {
    const { handle, statements } = counting(await testDatabase(), 'pglite');
    const stop = startEmbeddedMaintenance(handle, log, 20);
    // Six runs, however slowly a loaded machine fires the timer.
    await vi.waitFor(() => expect(statements.length).toBeGreaterThanOrEqual(6), { timeout: 15_000, interval: 20 });
    stop();
    expect(statements.slice(0, 5)).toEqual(['analyze', 'analyze', 'analyze', 'analyze', 'analyze']);
    expect(statements[5]).toBe('vacuum analyze');
    // The statements ran for real.
    expect(await queryRows(handle, sql`select 1 as one`)).toEqual([{ one: 1 }]);
  });

  it('leaves PostgreSQL servers to their autovacuum', async () => {
    const { handle, statements } = counting(await testDatabase(), 'postgres');
    const stop = startEmbeddedMaintenance(handle, log, 20);
    await new Promise((resolve) => setTimeout(resolve, 100));
    stop();
    expect(statements).toEqual([]);
  });
});
