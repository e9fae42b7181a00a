import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp, type App, type AppDeps } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { DatabaseHandle } from '../../src/db/client.js';
import type { ErrorBody } from '../../src/errors.js';
import { testDatabase } from './database.js';

export const ADMIN_TOKEN = 'mt_admin_test_0123456789abcdefghijklmnop';

export interface TestContext {
  /** The public listener's instance: tracker, collector, Partners API. */
  app: App;
  /** The admin listener's instance: Admin API, its /openapi.json and /docs, /metrics. */
  admin: FastifyInstance;
  config: Config;
  database: DatabaseHandle;
}

/** The real app (buildApp, real database) with test configuration; logs silenced unless given. */
export async function createTestApp(
  env: Record<string, string> = {},
  deps: Partial<AppDeps> = {},
  beforeReady?: (app: App) => void,
): Promise<TestContext> {
  const config = loadConfig({ MARKTAG_ADMIN_TOKEN: ADMIN_TOKEN, LOG_LEVEL: 'silent', ...env });
  const database = deps.database ?? (await testDatabase());
  const app = await buildApp(config, { database, adminToken: ADMIN_TOKEN, logger: false, ...deps });
  beforeReady?.(app);
  await app.ready();
  await app.admin.ready();
  return { app, admin: app.admin, config, database };
}

export function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}


/** Parses an error answer and checks it is the documented envelope with the response's request id. */
export function errorOf(response: LightMyRequestResponse): ErrorBody['error'] {
  const body = response.json<ErrorBody>();
  if (typeof body.error?.code !== 'string' || typeof body.error.message !== 'string') {
    throw new Error(`not an error envelope: ${response.body}`);
  }
  if (body.error.requestId !== response.headers['x-request-id']) {
    throw new Error(`requestId ${body.error.requestId} differs from x-request-id ${String(response.headers['x-request-id'])}`);
  }
  return body.error;
}
