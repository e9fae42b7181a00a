import type { PGlite, Transaction } from '@electric-sql/pglite';
import type pg from 'pg';

/**
 * One connection, for the storage chores that run raw SQL outside the query builder (DDL, CREATE
 * INDEX CONCURRENTLY, partition moves): a statement at a time, or a transaction on that connection.
 */
export interface SqlSession {
  query<Row>(text: string, params?: unknown[]): Promise<Row[]>;
  transaction<T>(work: (tx: SqlSession) => Promise<T>): Promise<T>;
}

/** A dedicated PostgreSQL connection (a pg.Client or a client checked out of a pool). */
export function pgSession(client: pg.ClientBase): SqlSession {
  const session: SqlSession = {
    async query<Row>(text: string, params?: unknown[]) {
      return (await client.query(text, params)).rows as Row[];
    },
    async transaction<T>(work: (tx: SqlSession) => Promise<T>) {
      await client.query('begin');
      try {
        const result = await work(session);
        await client.query('commit');
        return result;
      } catch (error) {
        await client.query('rollback');
        throw error;
      }
    },
  };
  return session;
}

/** PGlite's one connection; its transactions hold the connection, so no other query interleaves. */
export function pgliteSession(client: PGlite | Transaction): SqlSession {
  return {
    async query<Row>(text: string, params?: unknown[]) {
      return (await client.query<Row>(text, params)).rows;
    },
    async transaction<T>(work: (tx: SqlSession) => Promise<T>) {
      if (!('transaction' in client)) return work(pgliteSession(client));
      return client.transaction((tx) => work(pgliteSession(tx)));
    },
  };
}
