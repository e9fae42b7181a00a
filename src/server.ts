import type { Config } from './config.js';
import { buildApp, type App } from './app.js';
import { ensureAdminToken } from './admin-token.js';
import { startEmbeddedMaintenance } from './db/maintenance.js';
import { startStorageUpkeep } from './db/storage-upkeep.js';
import { describeDatabase, openMigratedDatabase } from './db/open.js';
import { loggerOptions } from './logger.js';

export interface RunningServer {
  app: App;
  url: string;
  /** The admin listener: Admin API, its reference, /metrics. */
  adminUrl: string;
  /** Stops taking requests, finishes the ones in flight, then closes the database. */
  close(): Promise<void>;
}

/** config → database → migrations → app → listen, on the public address and, apart, the admin one. */
export async function startServer(config: Config, options: { pretty?: boolean } = {}): Promise<RunningServer> {
  // The partition indexes an upgrade declared are built by the storage upkeep once the server listens.
  const database = await openMigratedDatabase(config, { partitionIndexes: 'later' });
  const admin = ensureAdminToken(config.adminToken, config.dataDir);
  const app = await buildApp(config, {
    database,
    adminToken: admin.token,
    logger: loggerOptions(config.logLevel, options.pretty ?? false),
  });

  let url: string;
  let adminUrl: string;
  try {
    url = await app.listen({ port: config.port, host: config.host });
    adminUrl = await app.admin.listen({ port: config.adminPort, host: config.adminHost });
  } catch (error) {
    // Port taken or not permitted: release the database so the process can exit at once (closing the app closes both listeners).
    await app.close();
    await database.close();
    throw error;
  }
  if (config.reverifyIntervalMs !== null && config.role !== 'collector') app.services.reverifier.start();
  const stopMaintenance = startEmbeddedMaintenance(database, app.log);
  const stopUpkeep = startStorageUpkeep(database, app.log);
  app.log.info({ database: describeDatabase(config), role: config.role, adminUrl }, `MarkTag listening on ${url}`);
  if (admin.created) app.log.info({ file: admin.file }, 'generated an admin token; it is in this file (mode 0600)');
  else if (admin.file) app.log.info({ file: admin.file }, 'admin token read from this file');

  return {
    app,
    url,
    adminUrl,
    // The database closes last: app.close() first lets in-flight requests finish and the collector
    // commit what it holds (onClose hooks run newest first, so a hook here would run too early).
    close: async () => {
      stopMaintenance();
      stopUpkeep();
      await app.close();
      await database.close();
    },
  };
}

const SHUTDOWN_GRACE_MS = 10_000;

/** SIGTERM/SIGINT: stop accepting, let in-flight requests finish, close the database, exit. A second signal exits at once. */
export function closeOnSignals(server: RunningServer): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) {
      server.app.log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    closing = true;
    server.app.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      server.app.log.error('shutdown took too long: exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        server.app.log.error({ err: error }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
