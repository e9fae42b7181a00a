import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MerchantDetails, MerchantList } from '../src/modules/merchants/schemas.js';
import { bearer, createTestApp, errorOf, type TestContext } from './helpers/app.js';
import { createMerchant, createPartner } from './helpers/factories.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestApp();
});
afterAll(async () => ctx.app.close());

async function list(token: string, query = '') {
  return ctx.app.inject({ method: 'GET', url: `/v1/partners/merchant${query}`, headers: bearer(token) });
}

describe('POST /v1/partners/merchant', () => {
  it('creates a merchant: 201 {merchantId}', async () => {
    const { token } = await createPartner(ctx.app);
    const response = await ctx.app.inject({
      method: 'POST',
      url: '/v1/partners/merchant',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'New Merchant Name' }),
    });
    expect(response.statusCode).toBe(201);
    const body = response.json<{ merchantId: string }>();
    expect(Object.keys(body)).toEqual(['merchantId']);
    expect(body.merchantId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);

    const details = await ctx.app.inject({ method: 'GET', url: `/v1/partners/merchant/${body.merchantId}`, headers: bearer(token) });
    expect(details.json<MerchantDetails>().name).toBe('New Merchant Name');
  });

  it('trims surrounding white space and accepts 200 characters', async () => {
    const { token } = await createPartner(ctx.app);
    const id = await createMerchant(ctx.app, token, '  Acme  ');
    const details = await ctx.app.inject({ method: 'GET', url: `/v1/partners/merchant/${id}`, headers: bearer(token) });
    expect(details.json<MerchantDetails>().name).toBe('Acme');
    await createMerchant(ctx.app, token, 'x'.repeat(200));
  });

  it.each([
    ['missing name', {}, 'name', 'name is required'],
    ['empty name', { name: '' }, 'name', 'name must be a non-empty string of at most 200 characters'],
    ['blank name', { name: '   ' }, 'name', 'name must be a non-empty string of at most 200 characters'],
    ['name too long', { name: 'x'.repeat(201) }, 'name', 'name must be a non-empty string of at most 200 characters'],
    ['name not a string', { name: 42 }, 'name', 'name must be a string'],
    ['name null', { name: null }, 'name', 'name must be a string'],
    ['name an array', { name: ['Acme'] }, 'name', 'name must be a string'],
    ['unknown field', { name: 'Acme', plan: 'gold' }, 'plan', 'plan is not a known body'],
    ['array body', [{ name: 'Acme' }], 'body', 'the body must be an object'],
  ])('refuses %s with 400 VALIDATION_ERROR', async (_label, payload, field, message) => {
    const { token } = await createPartner(ctx.app);
    const response = await ctx.app.inject({ method: 'POST', url: '/v1/partners/merchant', headers: bearer(token), payload });
    expect(response.statusCode).toBe(400);
    const error = errorOf(response);
    expect(error.code).toBe('VALIDATION_ERROR');
    expect(error.message).toBe(message);
    expect(error.details?.[0]?.field).toBe(field);
    expect((await list(token)).json<MerchantList>().pagination.totalItems).toBe(0);
  });

  it('refuses malformed JSON, an empty JSON body and a missing body with 400', async () => {
    const { token } = await createPartner(ctx.app);
    const url = '/v1/partners/merchant';
    const json = { ...bearer(token), 'content-type': 'application/json' };
    const malformed = await ctx.app.inject({ method: 'POST', url, headers: json, payload: '{"name": "Acme"' });
    expect(malformed.statusCode).toBe(400);
    expect(errorOf(malformed)).toMatchObject({ code: 'VALIDATION_ERROR', message: 'Request body is not valid JSON' });

    const empty = await ctx.app.inject({ method: 'POST', url, headers: json, payload: '' });
    expect(empty.statusCode).toBe(400);
    expect(errorOf(empty).code).toBe('VALIDATION_ERROR');

    const none = await ctx.app.inject({ method: 'POST', url, headers: bearer(token) });
    expect(none.statusCode).toBe(400);
    expect(errorOf(none).code).toBe('VALIDATION_ERROR');
  });

  it('refuses other content types with 415', async () => {
    const { token } = await createPartner(ctx.app);
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const response = await ctx.app.inject({
        method: 'POST',
        url: '/v1/partners/merchant',
        headers: { ...bearer(token), 'content-type': type },
        payload: 'name=Acme',
      });
      expect(response.statusCode).toBe(415);
      expect(errorOf(response).code).toBe('UNSUPPORTED_MEDIA_TYPE');
    }
  });
});

describe('GET /v1/partners/merchant', () => {
  it('answers the documented shape with default pagination (page 1, limit 10)', async () => {
    const { token } = await createPartner(ctx.app);
    const id = await createMerchant(ctx.app, token, 'Acme Corporation');
    const response = await list(token);
    expect(response.statusCode).toBe(200);
    const body = response.json<MerchantList>();
    expect(body).toEqual({
      merchants: [{ merchantId: id, name: 'Acme Corporation', createdAt: expect.any(String) as string, marktags: [] }],
      pagination: { currentPage: 1, itemsPerPage: 10, totalItems: 1, totalPages: 1, hasNextPage: false, hasPreviousPage: false },
    });
    expect(new Date(body.merchants[0]?.createdAt ?? '').toISOString()).toBe(body.merchants[0]?.createdAt);
  });

  it('pages newest first, stable, with exact pagination figures', async () => {
    const { token } = await createPartner(ctx.app);
    const created: string[] = [];
    for (let i = 0; i < 23; i++) created.push(await createMerchant(ctx.app, token, `M${i}`));
    const newestFirst = [...created].reverse();

    const seen: string[] = [];
    for (let page = 1; page <= 3; page++) {
      const body = (await list(token, `?page=${page}&limit=10`)).json<MerchantList>();
      seen.push(...body.merchants.map((m) => m.merchantId));
      expect(body.pagination).toEqual({
        currentPage: page,
        itemsPerPage: 10,
        totalItems: 23,
        totalPages: 3,
        hasNextPage: page < 3,
        hasPreviousPage: page > 1,
      });
    }
    expect(seen).toEqual(newestFirst);

    const beyond = (await list(token, '?page=4&limit=10')).json<MerchantList>();
    expect(beyond.merchants).toEqual([]);
    expect(beyond.pagination).toMatchObject({ currentPage: 4, totalPages: 3, hasNextPage: false, hasPreviousPage: true });

    const all = (await list(token, '?limit=100')).json<MerchantList>();
    expect(all.merchants.map((m) => m.merchantId)).toEqual(newestFirst);
    expect(all.pagination).toMatchObject({ itemsPerPage: 100, totalPages: 1 });

    const one = (await list(token, '?limit=1&page=23')).json<MerchantList>();
    expect(one.merchants.map((m) => m.merchantId)).toEqual([created[0]]);
    expect(one.pagination).toMatchObject({ totalPages: 23, hasNextPage: false, hasPreviousPage: true });
  });

  it('breaks ties in creation time by id', async () => {
    const { token, partnerId } = await createPartner(ctx.app);
    const ids = [await createMerchant(ctx.app, token), await createMerchant(ctx.app, token), await createMerchant(ctx.app, token)];
    await ctx.database.db.execute(sql`update merchants set created_at = '2025-01-25T10:30:00Z' where partner_id = ${partnerId}`);
    const body = (await list(token)).json<MerchantList>();
    expect(body.merchants.map((m) => m.merchantId)).toEqual([...ids].sort().reverse());
  });

  it('answers an empty list for a partner without merchants', async () => {
    const { token } = await createPartner(ctx.app);
    const body = (await list(token)).json<MerchantList>();
    expect(body).toEqual({
      merchants: [],
      pagination: { currentPage: 1, itemsPerPage: 10, totalItems: 0, totalPages: 0, hasNextPage: false, hasPreviousPage: false },
    });
  });

  it.each([
    ['?page=0', 'page', 'page must be at least 1'],
    ['?page=-1', 'page', 'page must be at least 1'],
    ['?limit=0', 'limit', 'limit must be at least 1'],
    ['?limit=101', 'limit', 'limit must be at most 100'],
    ['?page=1.5', 'page', 'page must be an integer'],
    ['?limit=ten', 'limit', 'limit must be an integer'],
    ['?page=', 'page', 'page must be an integer'],
    ['?page=1&page=2', 'page', 'page must be an integer'],
    ['?page=1e400', 'page', 'page must be a finite number'],
    ['?page=9007199254740993', 'page', 'page must be at most 9007199254740991'],
    ['?sort=name', 'sort', 'sort is not a known query parameter'],
  ])('refuses %s with 400 VALIDATION_ERROR', async (query, field, message) => {
    const { token } = await createPartner(ctx.app);
    const response = await list(token, query);
    expect(response.statusCode).toBe(400);
    const error = errorOf(response);
    expect(error).toMatchObject({ code: 'VALIDATION_ERROR', message });
    expect(error.details).toEqual([{ field, message }]);
  });
});

describe('GET and PATCH /v1/partners/merchant/{merchantId}', () => {
  it('reads and renames a merchant', async () => {
    const { token } = await createPartner(ctx.app);
    const id = await createMerchant(ctx.app, token, 'Old Name');
    const renamed = await ctx.app.inject({
      method: 'PATCH',
      url: `/v1/partners/merchant/${id}`,
      headers: bearer(token),
      payload: { name: 'New Name' },
    });
    expect(renamed.statusCode).toBe(200);
    const body = renamed.json<MerchantDetails>();
    expect(body).toMatchObject({ merchantId: id, name: 'New Name', marktags: [] });
    expect(Date.parse(body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(body.createdAt));
    const read = await ctx.app.inject({ method: 'GET', url: `/v1/partners/merchant/${id}`, headers: bearer(token) });
    expect(read.json<MerchantDetails>()).toEqual(body);
  });

  it('answers 404 MERCHANT_NOT_FOUND for an unknown id and 400 for a malformed one', async () => {
    const { token } = await createPartner(ctx.app);
    const unknown = await ctx.app.inject({ method: 'GET', url: `/v1/partners/merchant/${randomUUID()}`, headers: bearer(token) });
    expect(unknown.statusCode).toBe(404);
    expect(errorOf(unknown)).toMatchObject({ code: 'MERCHANT_NOT_FOUND', message: 'Merchant not found' });

    const malformed = await ctx.app.inject({ method: 'GET', url: '/v1/partners/merchant/not-a-uuid', headers: bearer(token) });
    expect(malformed.statusCode).toBe(400);
    expect(errorOf(malformed)).toMatchObject({ code: 'VALIDATION_ERROR', message: 'merchantId must be a valid UUID' });

    const patch = await ctx.app.inject({
      method: 'PATCH',
      url: `/v1/partners/merchant/${randomUUID()}`,
      headers: bearer(token),
      payload: { name: 'x' },
    });
    expect(patch.statusCode).toBe(404);
    expect(errorOf(patch).code).toBe('MERCHANT_NOT_FOUND');
  });

  it('refuses an invalid new name with 400', async () => {
    const { token } = await createPartner(ctx.app);
    const id = await createMerchant(ctx.app, token);
    const response = await ctx.app.inject({ method: 'PATCH', url: `/v1/partners/merchant/${id}`, headers: bearer(token), payload: { name: ' ' } });
    expect(response.statusCode).toBe(400);
    expect(errorOf(response).code).toBe('VALIDATION_ERROR');
  });
});

describe('isolation between partners', () => {
  it('never shows, counts or changes another partner’s merchants', async () => {
    const a = await createPartner(ctx.app);
    const b = await createPartner(ctx.app);
    const aMerchant = await createMerchant(ctx.app, a.token, 'A only');
    await createMerchant(ctx.app, b.token, 'B only');

    const bList = (await list(b.token)).json<MerchantList>();
    expect(bList.merchants.map((m) => m.name)).toEqual(['B only']);
    expect(bList.pagination.totalItems).toBe(1);

    const read = await ctx.app.inject({ method: 'GET', url: `/v1/partners/merchant/${aMerchant}`, headers: bearer(b.token) });
    expect(read.statusCode).toBe(404);
    expect(errorOf(read).code).toBe('MERCHANT_NOT_FOUND');

    const patch = await ctx.app.inject({
      method: 'PATCH',
      url: `/v1/partners/merchant/${aMerchant}`,
      headers: bearer(b.token),
      payload: { name: 'hijacked' },
    });
    expect(patch.statusCode).toBe(404);
    expect(errorOf(patch).code).toBe('MERCHANT_NOT_FOUND');

    const mine = await ctx.app.inject({ method: 'GET', url: `/v1/partners/merchant/${aMerchant}`, headers: bearer(a.token) });
    expect(mine.json<MerchantDetails>().name).toBe('A only');
  });
});

describe('Idempotency-Key on POST /v1/partners/merchant', () => {
  async function post(token: string, key: string, name: string) {
    return ctx.app.inject({
      method: 'POST',
      url: '/v1/partners/merchant',
      headers: { ...bearer(token), 'idempotency-key': key },
      payload: { name },
    });
  }

  it('replays the first response for a retry with the same key and body', async () => {
    const { token } = await createPartner(ctx.app);
    const key = randomUUID();
    const first = await post(token, key, 'Acme');
    const retry = await post(token, key, 'Acme');
    expect(first.statusCode).toBe(201);
    expect(retry.statusCode).toBe(201);
    expect(retry.body).toBe(first.body);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect((await list(token)).json<MerchantList>().pagination.totalItems).toBe(1);
  });

  it('answers 409 IDEMPOTENCY_CONFLICT for the same key with another body', async () => {
    const { token } = await createPartner(ctx.app);
    const key = randomUUID();
    await post(token, key, 'Acme');
    const conflict = await post(token, key, 'Other');
    expect(conflict.statusCode).toBe(409);
    expect(errorOf(conflict).code).toBe('IDEMPOTENCY_CONFLICT');
    expect((await list(token)).json<MerchantList>().pagination.totalItems).toBe(1);
  });

  it('runs concurrent retries once', async () => {
    const { token } = await createPartner(ctx.app);
    const key = randomUUID();
    const answers = await Promise.all(Array.from({ length: 5 }, () => post(token, key, 'Acme')));
    const created = answers.filter((a) => a.statusCode === 201);
    expect(created.length).toBeGreaterThanOrEqual(1);
    for (const answer of answers) {
      expect([201, 409]).toContain(answer.statusCode);
      if (answer.statusCode === 201) expect(answer.body).toBe(created[0]?.body);
      else expect(errorOf(answer).code).toBe('IDEMPOTENCY_CONFLICT');
    }
    expect((await list(token)).json<MerchantList>().pagination.totalItems).toBe(1);
  });

  it('keeps keys per partner', async () => {
    const a = await createPartner(ctx.app);
    const b = await createPartner(ctx.app);
    const key = randomUUID();
    const first = await post(a.token, key, 'Acme');
    const second = await post(b.token, key, 'Acme');
    expect(second.statusCode).toBe(201);
    expect(second.headers['idempotent-replayed']).toBeUndefined();
    expect(second.body).not.toBe(first.body);
  });

  it('forgets keys after 24 hours', async () => {
    const { token, partnerId } = await createPartner(ctx.app);
    const key = randomUUID();
    const first = await post(token, key, 'Acme');
    await ctx.database.db.execute(
      sql`update idempotency_keys set created_at = now() - interval '25 hours' where scope = ${`partner:${partnerId}`}`,
    );
    const later = await post(token, key, 'Acme');
    expect(later.statusCode).toBe(201);
    expect(later.body).not.toBe(first.body);
    expect((await list(token)).json<MerchantList>().pagination.totalItems).toBe(2);
  });

  it('does not spend the key on a request refused by validation', async () => {
    const { token } = await createPartner(ctx.app);
    const key = randomUUID();
    expect((await post(token, key, '')).statusCode).toBe(400);
    expect((await post(token, key, 'Acme')).statusCode).toBe(201);
  });

  it('refuses an over-long key', async () => {
    const { token } = await createPartner(ctx.app);
    const response = await post(token, 'k'.repeat(256), 'Acme');
    expect(response.statusCode).toBe(400);
    expect(errorOf(response).details?.[0]?.field).toBe('idempotency-key');
  });
});
