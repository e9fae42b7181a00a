import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken } from '../src/modules/tokens/token-format.js';
import { ADMIN_TOKEN, bearer, createTestApp, errorOf, type TestContext } from './helpers/app.js';
import { createPartner } from './helpers/factories.js';

let ctx: TestContext;
beforeAll(async () => {
  // Every case below fails from the same address, more often than the default failed-auth bound allows.
  ctx = await createTestApp({ MARKTAG_AUTH_FAILURE_LIMIT: '1000' });
});
afterAll(async () => ctx.app.close());

/**
 * Every Partners API route with the 401 code its documentation names. Checked against the
 * OpenAPI document below, so a new route cannot be added without its authentication test.
 */
const PARTNER_ROUTES = [
  { method: 'GET' as const, url: '/v1/partners/me', route: '/v1/partners/me', code: 'AUTHENTICATION_ERROR' },
  { method: 'GET' as const, url: '/v1/partners/merchant', route: '/v1/partners/merchant', code: 'AUTHENTICATION_ERROR' },
  { method: 'POST' as const, url: '/v1/partners/merchant', route: '/v1/partners/merchant', code: 'AUTHENTICATION_ERROR', payload: { name: 'x' } },
  {
    method: 'GET' as const,
    url: `/v1/partners/merchant/${randomUUID()}`,
    route: '/v1/partners/merchant/{merchantId}',
    code: 'AUTHENTICATION_ERROR',
  },
  {
    method: 'PATCH' as const,
    url: `/v1/partners/merchant/${randomUUID()}`,
    route: '/v1/partners/merchant/{merchantId}',
    code: 'AUTHENTICATION_ERROR',
    payload: { name: 'x' },
  },
  {
    method: 'POST' as const,
    url: '/v1/partners/marktag/generate',
    route: '/v1/partners/marktag/generate',
    code: 'UNAUTHORIZED',
    payload: { merchantId: randomUUID(), domain: 'example.com' },
  },
  {
    method: 'POST' as const,
    url: '/v1/partners/marktag/verify',
    route: '/v1/partners/marktag/verify',
    code: 'UNAUTHORIZED',
    payload: { tagId: randomUUID(), subdomain: 'shop.example.com' },
  },
  { method: 'GET' as const, url: `/v1/partners/marktag/${randomUUID()}`, route: '/v1/partners/marktag/{tagId}', code: 'UNAUTHORIZED' },
  { method: 'GET' as const, url: `/v1/partners/marktag/${randomUUID()}/diagnostics`, route: '/v1/partners/marktag/{tagId}/diagnostics', code: 'UNAUTHORIZED' },
  { method: 'GET' as const, url: '/v1/partners/events', route: '/v1/partners/events', code: 'AUTHENTICATION_ERROR' },
  {
    method: 'POST' as const,
    url: '/v1/partners/events',
    route: '/v1/partners/events',
    code: 'AUTHENTICATION_ERROR',
    payload: { tagId: randomUUID(), events: [{ type: 'purchase', userId: 'u' }] },
  },
  { method: 'GET' as const, url: `/v1/partners/events/summary?merchantId=${randomUUID()}`, route: '/v1/partners/events/summary', code: 'AUTHENTICATION_ERROR' },
  { method: 'GET' as const, url: '/v1/partners/events/export', route: '/v1/partners/events/export', code: 'AUTHENTICATION_ERROR' },
  { method: 'GET' as const, url: '/v1/partners/events/stream', route: '/v1/partners/events/stream', code: 'AUTHENTICATION_ERROR' },
];

describe('Partners API authentication', () => {
  it('covers every /v1/partners route of the OpenAPI document', async () => {
    const spec = (await ctx.app.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, object> }>();
    const documented = Object.entries(spec.paths)
      .filter(([path]) => path.startsWith('/v1/partners'))
      .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`))
      .sort();
    expect(documented).toEqual(PARTNER_ROUTES.map((r) => `${r.method} ${r.route}`).sort());
  });

  const revokedToken = async () => {
    const partner = await createPartner(ctx.app);
    await ctx.admin.inject({ method: 'DELETE', url: `/v1/admin/tokens/${partner.tokenId}`, headers: bearer(ADMIN_TOKEN) });
    return partner.token;
  };
  const valid = generateToken();
  const cases: [string, () => Promise<Record<string, string>>, boolean][] = [
    ['no Authorization header', async () => ({}), false],
    ['an empty Authorization header', async () => ({ authorization: '' }), false],
    ['another scheme', async () => ({ authorization: `Basic ${valid}` }), false],
    ['a malformed token', async () => bearer('mp_live_123'), true],
    ['a token with a bad checksum', async () => bearer(`${valid.slice(0, -6)}zzzzzz`), true],
    ['a well-formed unknown token', async () => bearer(generateToken()), true],
    ['a revoked token', async () => bearer(await revokedToken()), true],
    ['the admin token', async () => bearer(ADMIN_TOKEN), true],
  ];

  for (const route of PARTNER_ROUTES) {
    it.each(cases)(`${route.method} ${route.route} refuses %s with 401 ${route.code}`, async (_label, headers, invalidToken) => {
      const response = await ctx.app.inject({ method: route.method, url: route.url, headers: await headers(), payload: route.payload });
      expect(response.statusCode).toBe(401);
      const error = errorOf(response);
      expect(error.code).toBe(route.code);
      expect(error.message.length).toBeGreaterThan(0);
      expect(response.headers['www-authenticate']).toBe(
        invalidToken ? 'Bearer realm="marktag", error="invalid_token"' : 'Bearer realm="marktag"',
      );
    });
  }

  it('authenticates before validating: a bad body without a token is 401, not 400', async () => {
    const response = await ctx.app.inject({ method: 'POST', url: '/v1/partners/merchant', payload: { nope: true } });
    expect(response.statusCode).toBe(401);
  });

  it('accepts the scheme case-insensitively', async () => {
    const { token } = await createPartner(ctx.app);
    const response = await ctx.app.inject({ method: 'GET', url: '/v1/partners/me', headers: { authorization: `bearer ${token}` } });
    expect(response.statusCode).toBe(200);
  });
});

describe('GET /v1/partners/me', () => {
  it('answers the partner the token belongs to', async () => {
    const partner = await createPartner(ctx.app, { name: 'Acme Commerce', domain: 'acme.io' });
    const response = await ctx.app.inject({ method: 'GET', url: '/v1/partners/me', headers: bearer(partner.token) });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ partnerId: partner.partnerId, name: 'Acme Commerce', domain: 'acme.io' });
  });
});
