import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PostgresHandle } from '../src/db/client.js';
import type { GenerateResponse } from '../src/modules/marktags/schemas.js';
import { bearer, createTestApp, errorOf, type TestContext } from './helpers/app.js';
import { engine } from './helpers/database.js';
import { createMerchant, createPartner } from './helpers/factories.js';
import { proxiedTestDatabase, type TcpProxy } from './helpers/tcp-proxy.js';

/**
 * The database goes away (connections cut, or the network stalls) under a running server, then
 * comes back: every answer meanwhile is a 503 with Retry-After within 5 s (the collector never
 * acknowledges what it did not store), and the service recovers by itself within 5 s.
 */
const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

describe.runIf(engine === 'postgres')('a database outage', () => {
  let proxy: TcpProxy;
  let database: PostgresHandle;
  let ctx: TestContext;
  let token: string;
  let tagId: string;

  beforeAll(async () => {
    ({ proxy, database } = await proxiedTestDatabase({ connectionTimeoutMillis: 2000, statementTimeoutMillis: 2000, stallTimeoutMillis: 3000 }));
    ctx = await createTestApp({}, { database });
    const domain = `o${randomUUID().slice(0, 8)}.test`;
    const partner = await createPartner(ctx.app, { domain });
    token = partner.token;
    const merchantId = await createMerchant(ctx.app, token);
    const generated = await ctx.app.inject({ method: 'POST', url: '/v1/partners/marktag/generate', headers: bearer(token), payload: { merchantId, domain } });
    tagId = generated.json<GenerateResponse>().tagId;
  });
  afterAll(async () => {
    await ctx.app.close();
    await database.close();
    await proxy.close();
  });

  const collect = () =>
    ctx.app.inject({
      method: 'POST',
      url: '/v1/collect',
      headers: { 'user-agent': UA, 'content-type': 'application/json' },
      payload: { tagId, events: [{ eventId: randomUUID(), type: 'page_view', url: 'https://o.test/' }] },
    });
  const probes = () => [
    collect(),
    ctx.app.inject({ method: 'GET', url: '/v1/partners/merchant', headers: bearer(token) }),
    ctx.app.inject({ method: 'GET', url: '/readyz' }),
  ];

  async function expectUnavailable(): Promise<void> {
    const started = Date.now();
    const answers = await Promise.all(probes());
    expect(Date.now() - started).toBeLessThan(5000);
    for (const response of answers) {
      expect(response.statusCode, response.body).toBe(503);
      expect(errorOf(response).code).toBe('SERVICE_UNAVAILABLE');
      expect(response.headers['retry-after']).toBeDefined();
    }
  }

  async function expectRecovered(): Promise<void> {
    const started = Date.now();
    for (;;) {
      const answers = await Promise.all(probes());
      if (answers.every((r) => r.statusCode < 300)) break;
      expect(Date.now() - started, answers.map((r) => r.statusCode).join(',')).toBeLessThan(5000);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect((await collect()).statusCode).toBe(202);
  }

  it('works through the proxy', async () => {
    expect((await collect()).statusCode).toBe(202);
  });

  it('answers 503 within 5 s while connections are cut, and recovers by itself', async () => {
    proxy.set('cut');
    await expectUnavailable();
    await expectUnavailable();
    proxy.set('open');
    await expectRecovered();
  }, 30_000);

  it('answers 503 within 5 s while the network stalls, and recovers by itself', async () => {
    proxy.set('stall');
    await expectUnavailable();
    // What the stall swallowed is lost: those connections are discarded as their queries time out,
    // and fresh ones take their place.
    proxy.set('open');
    await expectRecovered();
  }, 30_000);
});
