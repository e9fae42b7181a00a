import type { Config } from '../../config.js';
import type { DatabaseHandle } from '../../db/client.js';
import type { BatchWriter } from '../collect/batch-writer.js';
import type { StreamHub } from '../events/stream-hub.js';
import type { Reverifier } from '../marktags/reverifier.js';
import type { Metrics } from './metrics.js';

const BACKLOG_SCRAPE_TIMEOUT_MS = 1000;

/** State that already lives in the services, read when Prometheus scrapes. */
export function observeState(
  metrics: Metrics,
  parts: { config: Config; database: DatabaseHandle; writer: BatchWriter; hub: StreamHub; reverifier: Reverifier },
): void {
  const { config, database, writer, hub, reverifier } = parts;
  metrics.gauge('marktag_batch_queue_events', 'Collector events waiting for, or in, a group-commit flush', () => writer.backlog);
  metrics.gauge('marktag_streams_open', 'Live event streams open in this process', () => hub.size);
  if (database.engine === 'postgres') {
    const { pool } = database;
    metrics.labelledGauge('marktag_db_pool_connections', 'PostgreSQL pool connections, idle or busy', 'state', () => ({
      idle: pool.idleCount,
      busy: pool.totalCount - pool.idleCount,
    }));
    metrics.gauge('marktag_db_pool_waiting', 'Queries waiting for a pool connection', () => pool.waitingCount);
    metrics.gauge('marktag_db_pool_max', 'PostgreSQL pool size limit', () => pool.options.max);
  }
  if (config.role !== 'collector' && config.reverifyIntervalMs !== null) {
    // A database question: bounded, and NaN rather than a failed scrape when the database is away.
    metrics.gauge('marktag_reverify_backlog_tags', 'Verified custom tags due for a DNS re-check (the same for every process)', () =>
      Promise.race([reverifier.backlog(), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), BACKLOG_SCRAPE_TIMEOUT_MS).unref())]),
    );
  }
}
