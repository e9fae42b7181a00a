import { getTableName, type Table } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import type { DatabaseHandle } from '../src/db/client.js';
import { apiTokens } from '../src/db/schema/index.js';
import { generateToken } from '../src/modules/tokens/token-format.js';
import { testDatabase } from './helpers/database.js';
import { ADMIN_TOKEN, bearer, createTestApp, errorOf, type TestContext } from './helpers/app.js';
import { createLiveTag, createPartner } from './helpers/factories.js';
import { redisForTest, TEST_REDIS_URL } from './helpers/redis.js';

const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const apps: TestContext[] = [];
afterAll(async () => {
  for (const ctx of apps) await ctx.app.close();
});

async function app(env: Record<string, string>): Promise<App> {
  const ctx = await createTestApp(env);
  apps.push(ctx);
  return ctx.app;
}

/** The real database, counting the queries that read `table` (token look-ups, here), built or named. */
function countingReads(handle: DatabaseHandle, table: Table): { handle: DatabaseHandle; reads: () => number } {
  let reads = 0;
  const db = new Proxy(handle.db, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      if (property !== 'select') return (value as (...args: unknown[]) => unknown).bind(target);
      return (...args: unknown[]) => {
        const builder = (value as (...args: unknown[]) => { from: (source: unknown) => unknown }).apply(target, args);
        const from = builder.from.bind(builder);
        builder.from = (source: unknown) => {
          if (source === table) reads++;
          return from(source);
        };
        return builder;
      };
    },
  });
  // Reads sent as named statements count too.
  const reading = new RegExp(`\\bfrom ${getTableName(table)}\\b`);
  const run: DatabaseHandle['run'] = (statement, params) => {
    if (reading.test(statement.text)) reads++;
    return handle.run(statement, params);
  };
  return { handle: { ...handle, db, run }, reads: () => reads };
}

const liveTag = async (target: App) => (await createLiveTag(target)).tagId;

const collect = (target: App, tagId: string) =>
  target.inject({
    method: 'POST',
    url: '/v1/collect',
    headers: { 'user-agent': UA, 'content-type': 'application/json' },
    payload: { tagId, events: [{ type: 'page_view', url: 'https://l.test/' }] },
  });

/** The collector's windows are aligned to the minute: a test that counts in one starts well inside it. */
async function awayFromWindowEdge(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 5_000) await new Promise((resolve) => setTimeout(resolve, left + 50));
}

describe('rate limits', () => {
  it('limits each token on the Partners API: 429 RATE_LIMITED with Retry-After and rate-limit headers', async () => {
    const limited = await app({ MARKTAG_API_RATE_LIMIT: '5' });
    const { token } = await createPartner(limited);
    const other = await createPartner(limited);
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await limited.inject({ method: 'GET', url: '/v1/partners/me', headers: bearer(token) }));
    expect(answers.slice(0, 5).map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200]);
    expect(answers[0]?.headers['x-ratelimit-limit']).toBe('5');
    const refused = answers[5];
    expect(refused?.statusCode).toBe(429);
    if (!refused) return;
    expect(errorOf(refused).code).toBe('RATE_LIMITED');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.headers['x-ratelimit-remaining']).toBe('0');
    // Another token has its own budget; bad tokens are counted too, without touching the database.
    expect((await limited.inject({ method: 'GET', url: '/v1/partners/me', headers: bearer(other.token) })).statusCode).toBe(200);
  });

  it('bounds failed authentications per client address: later unknown tokens get 429 without a look-up', async () => {
    const counted = countingReads(await testDatabase(), apiTokens);
    const ctx = await createTestApp({ MARKTAG_AUTH_FAILURE_LIMIT: '5' }, { database: counted.handle });
    apps.push(ctx);
    const partner = await createPartner(ctx.app);
    const me = (token: string, remoteAddress: string) =>
      ctx.app.inject({ method: 'GET', url: '/v1/partners/me', headers: bearer(token), remoteAddress });
    const flooder = '203.0.113.7';

    // A partner's token used from the flooder's address (a shared NAT) before the flood.
    expect((await me(partner.token, flooder)).statusCode).toBe(200);
    const before = counted.reads();
    for (let i = 0; i < 5; i++) expect((await me(generateToken(), flooder)).statusCode).toBe(401);
    expect(counted.reads() - before).toBe(5);

    const blocked = counted.reads();
    for (let i = 0; i < 20; i++) {
      const refused = await me(generateToken(), flooder);
      expect(refused.statusCode).toBe(429);
      expect(errorOf(refused)).toMatchObject({ code: 'RATE_LIMITED' });
      expect(errorOf(refused).message).toMatch(/^Too many failed authentications from this address: retry in \d+ seconds$/);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
    }
    expect(counted.reads()).toBe(blocked);

    // Another address is unaffected; a token that authenticated recently still works from the blocked one.
    expect((await me(generateToken(), '198.51.100.9')).statusCode).toBe(401);
    expect((await me(partner.token, '198.51.100.9')).statusCode).toBe(200);
    expect((await me(partner.token, flooder)).statusCode).toBe(200);
    // A valid token not seen lately is refused there until the window ends (decided: no look-up for it).
    const stranger = await createPartner(ctx.app);
    expect((await me(stranger.token, flooder)).statusCode).toBe(429);

    // Revocation still holds on the very next request, from the blocked address too.
    await ctx.admin.inject({ method: 'DELETE', url: `/v1/admin/tokens/${partner.tokenId}`, headers: bearer(ADMIN_TOKEN) });
    const revoked = await me(partner.token, flooder);
    expect(revoked.statusCode).toBe(401);
    expect(errorOf(revoked).code).toBe('AUTHENTICATION_ERROR');
  });

  it('remembers unknown tokens briefly: the same bad token again costs no look-up', async () => {
    const counted = countingReads(await testDatabase(), apiTokens);
    const ctx = await createTestApp({ MARKTAG_AUTH_FAILURE_LIMIT: '0' }, { database: counted.handle });
    apps.push(ctx);
    const bad = generateToken();
    for (let i = 0; i < 10; i++) {
      const response = await ctx.app.inject({ method: 'GET', url: '/v1/partners/me', headers: bearer(bad) });
      expect(response.statusCode).toBe(401);
      expect(errorOf(response).message).toBe('Invalid or revoked API token');
    }
    expect(counted.reads()).toBe(1);
  });

  it('limits each tag on the collector, and not the tracker script', async () => {
    const limited = await app({ MARKTAG_COLLECT_RATE_LIMIT: '3' });
    const busy = await liveTag(limited);
    const quiet = await liveTag(limited);
    await awayFromWindowEdge();
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await collect(limited, busy));
    expect(answers.map((answer) => answer.statusCode)).toEqual([202, 202, 202, 429]);
    expect(answers.map((answer) => answer.headers['x-ratelimit-remaining'])).toEqual(['2', '1', '0', '0']);
    expect(answers[0]?.headers['x-ratelimit-limit']).toBe('3');
    const reset = Number(answers[0]?.headers['x-ratelimit-reset']);
    expect(reset).toBeGreaterThan(0);
    expect(reset).toBeLessThanOrEqual(60);
    const refused = await collect(limited, busy);
    expect(errorOf(refused).code).toBe('RATE_LIMITED');
    expect(errorOf(refused).message).toMatch(/^Rate limit exceeded: retry in \d+ seconds$/);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect((await collect(limited, quiet)).statusCode).toBe(202);
    for (let i = 0; i < 5; i++) expect((await limited.inject({ method: 'GET', url: '/mtag.js' })).statusCode).toBe(200);
  });

  it('holds across processes through Redis when REDIS_URL is set', async () => {
    if (!(await redisForTest())) return;
    const env = { MARKTAG_API_RATE_LIMIT: '4', REDIS_URL: TEST_REDIS_URL };
    const first = await app(env);
    const second = await app(env);
    const { token } = await createPartner(first);
    const codes = [];
    for (let i = 0; i < 6; i++) codes.push((await (i % 2 === 0 ? first : second).inject({ method: 'GET', url: '/v1/partners/me', headers: bearer(token) })).statusCode);
    expect(codes).toEqual([200, 200, 200, 200, 429, 429]);
  });
});

describe('the collector limit across processes', () => {
  it('is shared through Redis: each process sends its counts every 100 ms and reads back the total', async () => {
    if (!(await redisForTest())) return;
    const env = { MARKTAG_COLLECT_RATE_LIMIT: '4', REDIS_URL: TEST_REDIS_URL };
    const first = await app(env);
    const second = await app(env);
    const tagId = await liveTag(first);
    await awayFromWindowEdge();
    const synced = () => new Promise((resolve) => setTimeout(resolve, 350));
    const codes: number[] = [];
    for (let i = 0; i < 3; i++) codes.push((await collect(first, tagId)).statusCode);
    await synced();
    codes.push((await collect(second, tagId)).statusCode);
    await synced();
    // The second has sent its hit and read back 4: over the limit from now on.
    codes.push((await collect(second, tagId)).statusCode);
    await synced();
    // The first learns the total when it sends its next hit (the price of no round trip per request).
    codes.push((await collect(first, tagId)).statusCode);
    await synced();
    codes.push((await collect(first, tagId)).statusCode);
    expect(codes).toEqual([202, 202, 202, 202, 429, 202, 429]);
  });
});

describe('security headers', () => {
  it('mark API answers no-store, unframeable and unsniffable', async () => {
    const target = await app({});
    const { token } = await createPartner(target);
    for (const [url, headers] of [
      ['/v1/partners/me', bearer(token)],
      ['/v1/partners/merchant/not-a-uuid', bearer(token)],
      ['/v1/admin/partners', bearer(ADMIN_TOKEN)],
      ['/readyz', {}],
    ] as const) {
      const response = await (url.startsWith('/v1/admin') ? target.admin : target).inject({ method: 'GET', url, headers });
      expect(response.headers, url).toMatchObject({
        'cache-control': 'no-store',
        'x-frame-options': 'DENY',
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
      });
    }
  });
});
