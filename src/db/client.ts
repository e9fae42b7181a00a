import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import pg from 'pg';
import { stallGuardedSocket } from './stall-guard.js';
import * as schema from './schema/index.js';

export type Schema = typeof schema;

/** One type for both engines: repositories never know which one they talk to. A transaction is one too. */
export type Database = PgDatabase<PgQueryResultHKT, Schema>;

/** A statement run often enough to be worth preparing once per connection (PostgreSQL) by name. */
export interface NamedStatement {
  name: string;
  text: string;
}

export type RunStatement = <Row>(statement: NamedStatement, params: unknown[]) => Promise<Row[]>;

/** A failed hot-path statement, named for the logs; the driver's error is its cause. */
export class StatementError extends Error {
  constructor(
    readonly statement: string,
    cause: unknown,
  ) {
    super(`statement ${statement} failed`, { cause });
    this.name = 'StatementError';
  }
}

const named = (statement: NamedStatement) => (error: unknown) => {
  throw new StatementError(statement.name, error);
};

interface HandleBase {
  db: Database;
  /** Hot paths: a fixed statement, planned once per connection, outside the query builder. */
  run: RunStatement;
  /** Answers whether the database takes queries now (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export type PostgresHandle = HandleBase & { engine: 'postgres'; pool: pg.Pool; connectionString: string };
export type PgliteHandle = HandleBase & { engine: 'pglite'; client: PGlite };
export type DatabaseHandle = PostgresHandle | PgliteHandle;

async function ping(db: Database): Promise<void> {
  await db.execute(sql`select 1`);
}

/** The longest one statement of a request may run before PostgreSQL cancels it (503). */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 3000;
/** How much longer than the statement timeout a connection may stay silent before it counts as dead. */
const STALL_MARGIN_MS = 1000;

export interface PostgresOptions {
  /** Pool size; the default suits one API process on a small machine. */
  max?: number;
  connectionTimeoutMillis?: number;
  /**
   * PostgreSQL's statement_timeout for every pool connection: the server cancels a longer
   * statement (SQLSTATE 57014, answered 503) and stops working on it.
   */
  statementTimeoutMillis?: number;
  /**
   * A connection awaiting an answer that hears nothing for this long is closed (its query fails,
   * answered 503, and the pool opens a fresh one): a dead network. Statement timeout + 1 s by default.
   */
  stallTimeoutMillis?: number;
}

export function openPostgres(url: string, options: PostgresOptions = {}): PostgresHandle {
  const statementTimeout = options.statementTimeoutMillis ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMillis ?? 3000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: 'marktag',
    // Sent in the start-up packet: no extra round trip per connection.
    statement_timeout: statementTimeout,
    stream: stallGuardedSocket(options.stallTimeoutMillis ?? statementTimeout + STALL_MARGIN_MS),
  });
  // An idle client losing its connection must not crash the process; the next query reports it.
  pool.on('error', () => undefined);
  // A connection closed under a checked-out client (by the stall guard, or by the server) fails its
  // queries, which is how callers learn of it; unheard, the client's 'error' event would throw.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = drizzlePg({ client: pool, schema }) as unknown as Database;
  let closed = false;
  return {
    db,
    engine: 'postgres',
    pool,
    connectionString: url,
    ping: () => ping(db),
    run: async <Row>(statement: NamedStatement, params: unknown[]) =>
      (await pool.query<Row & pg.QueryResultRow>({ name: statement.name, text: statement.text, values: params }).catch(named(statement)))
        .rows as Row[],
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

/**
 * Embedded PostgreSQL (WASM). `dataDir` undefined keeps it in memory (tests). The statement
 * timeout is set with the same SQL as on a server; PGlite accepts it but cannot enforce it (one
 * single-threaded connection, no timer signals inside WASM).
 */
export async function openPglite(dataDir: string | undefined, statementTimeoutMillis = DEFAULT_STATEMENT_TIMEOUT_MS): Promise<PgliteHandle> {
  if (dataDir !== undefined) mkdirSync(dataDir, { recursive: true });
  const client = await PGlite.create(dataDir);
  await client.query(`set statement_timeout = ${Math.trunc(statementTimeoutMillis)}`);
  const db = drizzlePglite({ client, schema }) as unknown as Database;
  return {
    db,
    engine: 'pglite',
    client,
    ping: () => ping(db),
    run: async <Row>(statement: NamedStatement, params: unknown[]) => (await client.query<Row>(statement.text, params).catch(named(statement))).rows,
    async close() {
      if (!client.closed) await client.close();
    },
  };
}
