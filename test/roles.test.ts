import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, bearer, createTestApp, type TestContext } from './helpers/app.js';

/** MARKTAG_ROLE splits one build into collector and API processes that scale separately. */
const apps: TestContext[] = [];
afterAll(async () => {
  for (const ctx of apps) await ctx.app.close();
});

async function routes(role: string): Promise<Record<string, number>> {
  const ctx = await createTestApp({ MARKTAG_ROLE: role });
  apps.push(ctx);
  const status = async (on: 'public' | 'admin', method: 'GET' | 'POST', url: string, headers: Record<string, string> = {}) =>
    (await (on === 'public' ? ctx.app : ctx.admin).inject({ method, url, headers, payload: method === 'POST' ? {} : undefined })).statusCode;
  return {
    tracker: await status('public', 'GET', '/mtag.js'),
    collect: await status('public', 'POST', '/v1/collect'),
    partners: await status('public', 'GET', '/v1/partners/me'),
    health: await status('public', 'GET', '/healthz'),
    // The admin listener: never the public one.
    admin: await status('admin', 'GET', '/v1/admin/partners', bearer(ADMIN_TOKEN)),
    adminDocs: await status('admin', 'GET', '/openapi.json'),
    metrics: await status('admin', 'GET', '/metrics'),
    adminOnPublic: await status('public', 'GET', '/v1/admin/partners', bearer(ADMIN_TOKEN)),
    metricsOnPublic: await status('public', 'GET', '/metrics'),
  };
}

const ADMIN_LISTENER_ONLY = { adminOnPublic: 404, metricsOnPublic: 404 };

describe('MARKTAG_ROLE', () => {
  it('all serves everything', async () => {
    expect(await routes('all')).toEqual({ tracker: 200, collect: 400, partners: 401, health: 200, admin: 200, adminDocs: 200, metrics: 200, ...ADMIN_LISTENER_ONLY });
  });

  it('collector serves the tracker and the collector only, and /metrics on the admin listener', async () => {
    expect(await routes('collector')).toEqual({ tracker: 200, collect: 400, partners: 404, health: 200, admin: 404, adminDocs: 404, metrics: 200, ...ADMIN_LISTENER_ONLY });
  });

  it('api serves the Partners and Admin APIs only', async () => {
    expect(await routes('api')).toEqual({ tracker: 404, collect: 404, partners: 401, health: 200, admin: 200, adminDocs: 200, metrics: 200, ...ADMIN_LISTENER_ONLY });
  });
});
