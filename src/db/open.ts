import path from 'node:path';
import type { Config } from '../config.js';
import { openPglite, openPostgres, type DatabaseHandle } from './client.js';

/** PostgreSQL when DATABASE_URL is set, else embedded PGlite persisted under the data directory. */
export async function openDatabase(config: Pick<Config, 'databaseUrl' | 'dataDir'>): Promise<DatabaseHandle> {
  if (config.databaseUrl !== undefined) return openPostgres(config.databaseUrl);
  return openPglite(path.join(config.dataDir, 'pgdata'));
}

/** Where the data lives, for start-up messages; never prints a password. */
export function describeDatabase(config: Pick<Config, 'databaseUrl' | 'dataDir'>): string {
  if (config.databaseUrl === undefined) return `embedded PGlite in ${path.join(config.dataDir, 'pgdata')}`;
  const url = new URL(config.databaseUrl);
  return `PostgreSQL at ${url.hostname}${url.port ? `:${url.port}` : ''}${url.pathname}`;
}
