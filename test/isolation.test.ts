import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GenerateResponse } from '../src/modules/marktags/schemas.js';
import { bearer, createTestApp, errorOf, type TestContext } from './helpers/app.js';
import { seedEvents } from './helpers/events.js';
import { createMerchant, createPartner } from './helpers/factories.js';

/**
 * Tenant isolation, route by route: partner B calls every Partners API route with partner A's
 * merchant, tag and event ids, and gets the documented refusal and none of A's data. The table is
 * checked against the OpenAPI document, so a new route cannot escape it.
 */
let ctx: TestContext;
interface Side {
  token: string;
  /** Text only this side's data contains: its merchant's name and its event's URL. */
  marks: string[];
  partnerId: string;
  merchantId: string;
  tagId: string;
  eventId: string;
}
let a: Side;
let b: Side;

async function side(): Promise<Side> {
  const domain = `i${randomUUID().slice(0, 8)}.test`;
  const partner = await createPartner(ctx.app, { domain });
  const merchantId = await createMerchant(ctx.app, partner.token, `Secret merchant ${domain}`);
  const generated = await ctx.app.inject({ method: 'POST', url: '/v1/partners/marktag/generate', headers: bearer(partner.token), payload: { merchantId, domain } });
  const tagId = generated.json<GenerateResponse>().tagId;
  const [event] = await seedEvents(ctx.database, { partnerId: partner.partnerId, merchantId, tagId }, [{ at: new Date(), type: 'purchase', url: `https://${domain}/secret-page` }]);
  return {
    token: partner.token,
    marks: [`Secret merchant ${domain}`, `https://${domain}/secret-page`],
    partnerId: partner.partnerId,
    merchantId,
    tagId,
    eventId: event?.eventId ?? '',
  };
}

beforeAll(async () => {
  ctx = await createTestApp();
  a = await side();
  b = await side();
});
afterAll(async () => ctx.app.close());

interface Probe {
  method: 'GET' | 'POST' | 'PATCH';
  url: () => string;
  payload?: () => object;
  /** The refusal expected, or 200 when the route answers with the caller's own data only. */
  status: number;
  code?: string;
}

/** Every Partners API route, keyed as in the OpenAPI document, with the probes that try A's ids from B. */
const TABLE: Record<string, Probe[]> = {
  'GET /v1/partners/me': [{ method: 'GET', url: () => '/v1/partners/me', status: 200 }],
  'GET /v1/partners/merchant': [{ method: 'GET', url: () => '/v1/partners/merchant?limit=100', status: 200 }],
  'POST /v1/partners/merchant': [{ method: 'POST', url: () => '/v1/partners/merchant', payload: () => ({ name: 'Mine' }), status: 201 }],
  'GET /v1/partners/merchant/{merchantId}': [{ method: 'GET', url: () => `/v1/partners/merchant/${a.merchantId}`, status: 404, code: 'MERCHANT_NOT_FOUND' }],
  'PATCH /v1/partners/merchant/{merchantId}': [
    { method: 'PATCH', url: () => `/v1/partners/merchant/${a.merchantId}`, payload: () => ({ name: 'Stolen' }), status: 404, code: 'MERCHANT_NOT_FOUND' },
  ],
  'POST /v1/partners/marktag/generate': [
    { method: 'POST', url: () => '/v1/partners/marktag/generate', payload: () => ({ merchantId: a.merchantId, domain: 'x.test' }), status: 404, code: 'MERCHANT_NOT_FOUND' },
  ],
  'POST /v1/partners/marktag/verify': [
    { method: 'POST', url: () => '/v1/partners/marktag/verify', payload: () => ({ tagId: a.tagId, subdomain: 'shop.x.test' }), status: 403, code: 'ACCESS_DENIED' },
  ],
  'GET /v1/partners/marktag/{tagId}': [{ method: 'GET', url: () => `/v1/partners/marktag/${a.tagId}`, status: 404, code: 'TAG_NOT_FOUND' }],
  'GET /v1/partners/marktag/{tagId}/diagnostics': [
    { method: 'GET', url: () => `/v1/partners/marktag/${a.tagId}/diagnostics`, status: 404, code: 'TAG_NOT_FOUND' },
  ],
  'GET /v1/partners/events': [
    { method: 'GET', url: () => `/v1/partners/events?merchantId=${a.merchantId}`, status: 404, code: 'MERCHANT_NOT_FOUND' },
    { method: 'GET', url: () => `/v1/partners/events?tagId=${a.tagId}`, status: 404, code: 'TAG_NOT_FOUND' },
    { method: 'GET', url: () => `/v1/partners/events?merchantId=${b.merchantId}&tagId=${a.tagId}`, status: 404, code: 'TAG_NOT_FOUND' },
    { method: 'GET', url: () => '/v1/partners/events', status: 200 },
  ],
  'POST /v1/partners/events': [
    {
      method: 'POST',
      url: () => '/v1/partners/events',
      payload: () => ({ tagId: a.tagId, events: [{ type: 'purchase', userId: 'intruder', value: 1, currency: 'EUR' }] }),
      status: 404,
      code: 'TAG_NOT_FOUND',
    },
  ],
  'GET /v1/partners/events/summary': [
    { method: 'GET', url: () => `/v1/partners/events/summary?merchantId=${a.merchantId}`, status: 404, code: 'MERCHANT_NOT_FOUND' },
    { method: 'GET', url: () => `/v1/partners/events/summary?merchantId=${b.merchantId}&tagId=${a.tagId}`, status: 404, code: 'TAG_NOT_FOUND' },
  ],
  'GET /v1/partners/events/export': [
    { method: 'GET', url: () => `/v1/partners/events/export?merchantId=${a.merchantId}`, status: 404, code: 'MERCHANT_NOT_FOUND' },
    { method: 'GET', url: () => `/v1/partners/events/export?tagId=${a.tagId}`, status: 404, code: 'TAG_NOT_FOUND' },
    { method: 'GET', url: () => '/v1/partners/events/export', status: 200 },
  ],
  'GET /v1/partners/events/stream': [
    { method: 'GET', url: () => `/v1/partners/events/stream?merchantId=${a.merchantId}`, status: 404, code: 'MERCHANT_NOT_FOUND' },
    { method: 'GET', url: () => `/v1/partners/events/stream?tagId=${a.tagId}`, status: 404, code: 'TAG_NOT_FOUND' },
  ],
};

describe('tenant isolation', () => {
  it('covers every Partners API route of the OpenAPI document', async () => {
    const spec = (await ctx.app.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, object> }>();
    const routes = Object.entries(spec.paths)
      .filter(([path]) => path.startsWith('/v1/partners'))
      .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`));
    expect(routes.sort()).toEqual(Object.keys(TABLE).sort());
  });

  for (const [route, probes] of Object.entries(TABLE)) {
    it(`${route}: another partner's ids get the documented refusal, never data`, async () => {
      for (const probe of probes) {
        const response = await ctx.app.inject({ method: probe.method, url: probe.url(), headers: bearer(b.token), payload: probe.payload?.() });
        expect(response.statusCode, `${probe.method} ${probe.url()}`).toBe(probe.status);
        if (probe.code) expect(errorOf(response).code).toBe(probe.code);
        // A's ids may only come back where B itself sent them (an echo in an error message is not data).
        for (const secret of [a.merchantId, a.tagId, a.eventId, a.partnerId, ...a.marks]) {
          if (probe.url().includes(secret) || JSON.stringify(probe.payload?.() ?? {}).includes(secret)) continue;
          expect(response.body, `${probe.method} ${probe.url()} leaked ${secret}`).not.toContain(secret);
        }
      }
    });
  }

  it('left A’s data as it was', async () => {
    const merchant = await ctx.app.inject({ method: 'GET', url: `/v1/partners/merchant/${a.merchantId}`, headers: bearer(a.token) });
    expect(merchant.json<{ name: string }>().name).toMatch(/^Secret merchant /);
    const events = await ctx.app.inject({ method: 'GET', url: `/v1/partners/events?merchantId=${a.merchantId}`, headers: bearer(a.token) });
    expect(events.body).toContain(a.eventId);
  });
});
