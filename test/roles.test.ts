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
  const status = async (method: 'GET' | 'POST', url: string, headers: Record<string, string> = {}) =>
    (await ctx.app.inject({ method, url, headers, payload: method === 'POST' ? {} : undefined })).statusCode;
  return {
    tracker: await status('GET', '/mtag.js'),
    collect: await status('POST', '/v1/collect'),
    partners: await status('GET', '/v1/partners/me'),
    admin: await status('GET', '/v1/admin/partners', bearer(ADMIN_TOKEN)),
    health: await status('GET', '/healthz'),
  };
}

describe('MARKTAG_ROLE', () => {
  it('all serves everything', async () => {
    expect(await routes('all')).toEqual({ tracker: 200, collect: 400, partners: 401, admin: 200, health: 200 });
  });

  it('collector serves the tracker and the collector only', async () => {
    expect(await routes('collector')).toEqual({ tracker: 200, collect: 400, partners: 404, admin: 404, health: 200 });
  });

  it('api serves the Partners and Admin APIs only', async () => {
    expect(await routes('api')).toEqual({ tracker: 404, collect: 404, partners: 401, admin: 200, health: 200 });
  });
});
