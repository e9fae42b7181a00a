import { sql } from 'drizzle-orm';
import type { FastifyBaseLogger } from 'fastify';
import type { DatabaseHandle } from './client.js';

const CHECK_EVERY_MS = 5_000;

/** What PostgreSQL's cumulative statistics say about one table. */
export interface TableActivity {
  schema: string;
  name: string;
  live: number;
  dead: number;
  modifiedSinceAnalyze: number;
  insertedSinceVacuum: number;
  /** The table's storage parameters (pg_class.reloptions), such as autovacuum_analyze_scale_factor=0.05. */
  options: string[] | null;
}

export interface MaintenanceStep {
  schema: string;
  name: string;
  vacuum: boolean;
}

/** autovacuum's defaults, which a table's own storage parameters override. */
const DEFAULTS = {
  autovacuum_analyze_threshold: 50,
  autovacuum_analyze_scale_factor: 0.1,
  autovacuum_vacuum_threshold: 50,
  autovacuum_vacuum_scale_factor: 0.2,
  autovacuum_vacuum_insert_threshold: 1000,
  autovacuum_vacuum_insert_scale_factor: 0.2,
};

function settings(options: string[] | null): typeof DEFAULTS {
  const chosen = { ...DEFAULTS };
  for (const option of options ?? []) {
    const [key = '', value = ''] = option.split('=');
    if (key in chosen && Number.isFinite(Number(value))) chosen[key as keyof typeof DEFAULTS] = Number(value);
  }
  return chosen;
}

/**
 * The tables autovacuum would see to now, by its own rules: analyze once enough rows changed since
 * the last analyze; vacuum once enough rows died or were inserted since the last vacuum.
 */
export function tablesDue(tables: TableActivity[]): MaintenanceStep[] {
  return tables.flatMap((table) => {
    const s = settings(table.options);
    const vacuum =
      table.dead > s.autovacuum_vacuum_threshold + s.autovacuum_vacuum_scale_factor * table.live ||
      table.insertedSinceVacuum > s.autovacuum_vacuum_insert_threshold + s.autovacuum_vacuum_insert_scale_factor * table.live;
    const analyze = table.modifiedSinceAnalyze > s.autovacuum_analyze_threshold + s.autovacuum_analyze_scale_factor * table.live;
    return vacuum || analyze ? [{ schema: table.schema, name: table.name, vacuum }] : [];
  });
}

/**
 * Embedded PGlite runs no autovacuum: without this, planner statistics never follow the data (the
 * Events API loses its index plans as tables grow, right after a burst of events), dead rows are
 * never reclaimed, and new pages are never marked all-visible for index-only scans. So the server
 * checks the tables' statistics every five seconds and does what autovacuum would. PostgreSQL
 * servers have autovacuum and need nothing from us.
 */
export function startEmbeddedMaintenance(database: DatabaseHandle, log: FastifyBaseLogger, everyMs = CHECK_EVERY_MS): () => void {
  if (database.engine !== 'pglite') return () => undefined;
  let running = false;
  const run = async () => {
    if (running) return; // a long vacuum is still at work
    running = true;
    try {
      const result: unknown = await database.db.execute(sql`
        select s.schemaname as schema, s.relname as name, s.n_live_tup::float8 as live, s.n_dead_tup::float8 as dead,
               s.n_mod_since_analyze::float8 as "modifiedSinceAnalyze", s.n_ins_since_vacuum::float8 as "insertedSinceVacuum",
               c.reloptions as options
        from pg_stat_user_tables s join pg_class c on c.oid = s.relid`);
      for (const step of tablesDue((result as { rows: TableActivity[] }).rows)) {
        const table = sql`${sql.identifier(step.schema)}.${sql.identifier(step.name)}`;
        await database.db.execute(step.vacuum ? sql`vacuum analyze ${table}` : sql`analyze ${table}`);
      }
    } catch (error) {
      log.warn({ err: error }, 'embedded database maintenance failed');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void run(), everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
