import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatePartnerResponse, PartnerList, TokenList } from '../src/modules/admin/schemas.js';
import { hashToken } from '../src/modules/tokens/token-format.js';
import { ADMIN_TOKEN, bearer, createTestApp, errorOf, type TestContext } from './helpers/app.js';
import { queryRows } from './helpers/database.js';
import { createPartner } from './helpers/factories.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestApp({ MARKTAG_CNAME_TARGET: 'mtag.example-cdn.net', MARKTAG_RECORD_NAME: 'track' });
});
afterAll(async () => ctx.app.close());

const admin = bearer(ADMIN_TOKEN);

describe('POST /v1/admin/partners', () => {
  it('onboards a partner with a domain: first token (shown once) and the CNAME record', async () => {
    const response = await ctx.admin.inject({
      method: 'POST',
      url: '/v1/admin/partners',
      headers: admin,
      payload: { name: 'Acme Commerce', domain: 'Acme-Commerce.com' },
    });
    expect(response.statusCode).toBe(201);
    const body = response.json<CreatePartnerResponse>();
    expect(body).toEqual({
      partnerId: expect.any(String) as string,
      name: 'Acme Commerce',
      domain: 'acme-commerce.com',
      createdAt: expect.any(String) as string,
      token: expect.stringMatching(/^mp_live_[0-9A-Za-z]{36}$/) as string,
      tokenId: expect.any(String) as string,
      record: { type: 'CNAME', name: 'track', value: 'mtag.example-cdn.net', ttl: 300 },
    });
    const me = await ctx.app.inject({ method: 'GET', url: '/v1/partners/me', headers: bearer(body.token) });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toEqual({ partnerId: body.partnerId, name: 'Acme Commerce', domain: 'acme-commerce.com' });
  });

  it('onboards a partner without a domain: record null', async () => {
    const body = await createPartner(ctx.app, { name: 'No Domain Inc' });
    expect(body.domain).toBeNull();
    expect(body.record).toBeNull();
  });

  it('stores only the SHA-256 hash and a display prefix of the token', async () => {
    const { token, tokenId } = await createPartner(ctx.app);
    const [row] = await queryRows<{ token_hash: string; prefix: string }>(
      ctx.database,
      sql`select token_hash, prefix from api_tokens where id = ${tokenId}`,
    );
    expect(row?.token_hash).toBe(hashToken(token));
    expect(row?.prefix).toBe(token.slice(0, 12));
    const everything = await queryRows(ctx.database, sql`select * from api_tokens where id = ${tokenId}`);
    expect(JSON.stringify(everything)).not.toContain(token.slice(12));
  });

  it.each([
    [{}, 'name', 'name is required'],
    [{ name: '' }, 'name', 'name must be a non-empty string of at most 200 characters'],
    [{ name: 'A', domain: 'https://acme.com' }, 'domain', 'domain must be a valid domain without protocol or www prefix'],
    [{ name: 'A', domain: 'www.acme.com' }, 'domain', 'domain must be a valid domain without protocol or www prefix'],
    [{ name: 'A', domain: 'localhost' }, 'domain', 'domain must be a valid domain without protocol or www prefix'],
    [{ name: 'A', domain: 'WWW.acme.com' }, 'domain', 'domain must be a valid domain without protocol or www prefix'],
    [{ name: 'A', domain: '-acme.com' }, 'domain', 'domain must not have a label that starts or ends with a hyphen'],
    [{ name: 'A', domain: 'acme-.com' }, 'domain', 'domain must not have a label that starts or ends with a hyphen'],
    [{ name: 'A', domain: 'co.uk' }, 'domain', 'domain cannot be used: co.uk is a public suffix, not a domain someone can register'],
    [{ name: 'A', extra: true }, 'extra', 'extra is not a known body'],
  ])('refuses %j with 400 VALIDATION_ERROR', async (payload, field, message) => {
    const response = await ctx.admin.inject({ method: 'POST', url: '/v1/admin/partners', headers: admin, payload });
    expect(response.statusCode).toBe(400);
    expect(errorOf(response)).toMatchObject({ code: 'VALIDATION_ERROR', message, details: [{ field, message }] });
  });
});

describe('GET /v1/admin/partners', () => {
  it('lists partners newest first with the merchants-list pagination', async () => {
    const first = await createPartner(ctx.app);
    const second = await createPartner(ctx.app);
    const response = await ctx.admin.inject({ method: 'GET', url: '/v1/admin/partners?limit=2', headers: admin });
    expect(response.statusCode).toBe(200);
    const body = response.json<PartnerList>();
    expect(body.partners.map((p) => p.partnerId)).toEqual([second.partnerId, first.partnerId]);
    expect(body.pagination).toMatchObject({ currentPage: 1, itemsPerPage: 2, hasNextPage: true, hasPreviousPage: false });
    expect(JSON.stringify(body)).not.toContain('mp_live_');
  });

  it('refuses bad pagination', async () => {
    const response = await ctx.admin.inject({ method: 'GET', url: '/v1/admin/partners?limit=1000', headers: admin });
    expect(response.statusCode).toBe(400);
    expect(errorOf(response).code).toBe('VALIDATION_ERROR');
  });
});

describe('tokens', () => {
  it('issues, lists (without secrets) and revokes tokens; a revoked token fails on the very next request', async () => {
    const partner = await createPartner(ctx.app);
    const issued = await ctx.admin.inject({
      method: 'POST',
      url: `/v1/admin/partners/${partner.partnerId}/tokens`,
      headers: admin,
      payload: { name: 'rotation' },
    });
    expect(issued.statusCode).toBe(201);
    const second = issued.json<{ tokenId: string; token: string }>();
    expect(second.token).toMatch(/^mp_live_[0-9A-Za-z]{36}$/);
    expect(second.token).not.toBe(partner.token);

    const me = () => ctx.app.inject({ method: 'GET', url: '/v1/partners/me', headers: bearer(second.token) });
    expect((await me()).statusCode).toBe(200);

    const listed = await ctx.admin.inject({ method: 'GET', url: `/v1/admin/partners/${partner.partnerId}/tokens`, headers: admin });
    expect(listed.statusCode).toBe(200);
    const tokens = listed.json<TokenList>().tokens;
    expect(tokens.map((t) => t.tokenId)).toEqual([partner.tokenId, second.tokenId]);
    expect(tokens[1]).toMatchObject({ name: 'rotation', prefix: second.token.slice(0, 12), revokedAt: null });
    expect(tokens[1]?.lastUsedAt).not.toBeNull();
    expect(listed.body).not.toContain(second.token);
    expect(listed.body).not.toContain(partner.token);

    const revoked = await ctx.admin.inject({ method: 'DELETE', url: `/v1/admin/tokens/${second.tokenId}`, headers: admin });
    expect(revoked.statusCode).toBe(204);
    expect(revoked.body).toBe('');

    const after = await me();
    expect(after.statusCode).toBe(401);
    expect(errorOf(after).code).toBe('AUTHENTICATION_ERROR');
    // The partner's other token still works.
    expect((await ctx.app.inject({ method: 'GET', url: '/v1/partners/me', headers: bearer(partner.token) })).statusCode).toBe(200);

    const again = await ctx.admin.inject({ method: 'DELETE', url: `/v1/admin/tokens/${second.tokenId}`, headers: admin });
    expect(again.statusCode).toBe(204);
    const relisted = await ctx.admin.inject({ method: 'GET', url: `/v1/admin/partners/${partner.partnerId}/tokens`, headers: admin });
    expect(relisted.json<TokenList>().tokens[1]?.revokedAt).toEqual(expect.any(String));
  });

  it('answers 404 for an unknown partner or token', async () => {
    const partnerId = randomUUID();
    const issue = await ctx.admin.inject({ method: 'POST', url: `/v1/admin/partners/${partnerId}/tokens`, headers: admin, payload: {} });
    expect(issue.statusCode).toBe(404);
    expect(errorOf(issue).code).toBe('PARTNER_NOT_FOUND');
    const list = await ctx.admin.inject({ method: 'GET', url: `/v1/admin/partners/${partnerId}/tokens`, headers: admin });
    expect(list.statusCode).toBe(404);
    expect(errorOf(list).code).toBe('PARTNER_NOT_FOUND');
    const revoke = await ctx.admin.inject({ method: 'DELETE', url: `/v1/admin/tokens/${randomUUID()}`, headers: admin });
    expect(revoke.statusCode).toBe(404);
    expect(errorOf(revoke).code).toBe('TOKEN_NOT_FOUND');
    const malformed = await ctx.admin.inject({ method: 'DELETE', url: '/v1/admin/tokens/abc', headers: admin });
    expect(malformed.statusCode).toBe(400);
    expect(errorOf(malformed).code).toBe('VALIDATION_ERROR');
  });
});

describe('admin authentication', () => {
  const routes = [
    { method: 'POST' as const, url: '/v1/admin/partners', payload: { name: 'x' } },
    { method: 'GET' as const, url: '/v1/admin/partners' },
    { method: 'POST' as const, url: `/v1/admin/partners/${randomUUID()}/tokens`, payload: {} },
    { method: 'GET' as const, url: `/v1/admin/partners/${randomUUID()}/tokens` },
    { method: 'DELETE' as const, url: `/v1/admin/tokens/${randomUUID()}` },
  ];

  it.each(routes)('$method $url needs the admin token', async (route) => {
    for (const headers of [{}, bearer('wrong'), bearer(`${ADMIN_TOKEN}x`), { authorization: `Basic ${ADMIN_TOKEN}` }]) {
      const response = await ctx.admin.inject({ ...route, headers });
      expect(response.statusCode).toBe(401);
      expect(errorOf(response).code).toBe('AUTHENTICATION_ERROR');
      expect(response.headers['www-authenticate']).toMatch(/^Bearer realm="marktag"/);
    }
  });

  it('does not accept a partner token', async () => {
    const { token } = await createPartner(ctx.app);
    const response = await ctx.admin.inject({ method: 'GET', url: '/v1/admin/partners', headers: bearer(token) });
    expect(response.statusCode).toBe(401);
  });
});

describe('the public listener (what tracking hosts reach)', () => {
  it.each(['/v1/admin/partners', `/v1/admin/partners/${randomUUID()}/tokens`, `/v1/admin/tokens/${randomUUID()}`])(
    'answers 404 NOT_FOUND for %s, even with the admin token',
    async (url) => {
      for (const method of ['GET', 'POST', 'DELETE'] as const) {
        const response = await ctx.app.inject({ method, url, headers: { ...admin, host: 'mtag.shop.example.com' }, payload: method === 'POST' ? { name: 'x' } : undefined });
        expect(response.statusCode, `${method} ${url}`).toBe(404);
        expect(errorOf(response).code).toBe('NOT_FOUND');
      }
    },
  );
});
