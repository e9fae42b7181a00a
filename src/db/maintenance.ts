import { sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import type { DatabaseHandle } from './client.js';

const ANALYZE_EVERY_MS = 10 * 60 * 1000;
const VACUUM_EVERY = 6; // analyze runs

/**
 * Embedded PGlite runs no autovacuum: without this, planner statistics never follow the data (the
 * Events API loses its index plans as tables grow) and dead rows are never reclaimed. PostgreSQL
 * servers have autovacuum and need nothing from us.
 */
export function startEmbeddedMaintenance(database: DatabaseHandle, log: FastifyBaseLogger, everyMs = ANALYZE_EVERY_MS): () => void {
  if (database.engine !== 'pglite') return () => undefined;
  let runs = 0;
  const run = async () => {
    const vacuum = ++runs % VACUUM_EVERY === 0;
    try {
      await database.db.execute(vacuum ? sql`vacuum analyze` : sql`analyze`);
    } catch (error) {
      log.warn({ err: error }, 'embedded database maintenance failed');
    }
  };
  const timer = setInterval(() => void run(), everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
