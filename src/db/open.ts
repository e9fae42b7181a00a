import path from 'node:path';
import type { Config } from '../config.js';
import { openPglite, openPostgres, type DatabaseHandle } from './client.js';
import { migrate, type MigrateOptions } from './migrate.js';

/** PostgreSQL when DATABASE_URL is set, else embedded PGlite persisted under the data directory. */
export async function openDatabase(config: Pick<Config, 'databaseUrl' | 'dataDir'> & Partial<Pick<Config, 'statementTimeoutMs'>>): Promise<DatabaseHandle> {
  if (config.databaseUrl !== undefined) return openPostgres(config.databaseUrl, { statementTimeoutMillis: config.statementTimeoutMs });
  return openPglite(path.join(config.dataDir, 'pgdata'), config.statementTimeoutMs);
}

/** Where the data lives, for start-up messages; never prints a password. */
export function describeDatabase(config: Pick<Config, 'databaseUrl' | 'dataDir'>): string {
  if (config.databaseUrl === undefined) return `embedded PGlite in ${path.join(config.dataDir, 'pgdata')}`;
  const url = new URL(config.databaseUrl);
  return `PostgreSQL at ${url.hostname}${url.port ? `:${url.port}` : ''}${url.pathname}`;
}

/** Opens the database and brings its schema up to date; a failure says which database and why, in one line. */
export async function openMigratedDatabase(
  config: Pick<Config, 'databaseUrl' | 'dataDir'> & Partial<Pick<Config, 'statementTimeoutMs'>>,
  options?: MigrateOptions,
): Promise<DatabaseHandle> {
  let database: DatabaseHandle | undefined;
  try {
    database = await openDatabase(config);
    await migrate(database, options);
    return database;
  } catch (error) {
    await database?.close().catch(() => undefined);
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new Error(`cannot use the database (${describeDatabase(config)}): ${reason}`, { cause: error });
  }
}
