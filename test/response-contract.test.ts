import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import * as ajvFormats from 'ajv-formats';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { openPostgres, type DatabaseHandle } from '../src/db/client.js';
import { DnsUnavailableError, type DnsResolver } from '../src/modules/marktags/dns-resolver.js';
import { generateToken } from '../src/modules/tokens/token-format.js';
import { ADMIN_TOKEN, bearer, createTestApp, type TestContext } from './helpers/app.js';
import { seedEvents } from './helpers/events.js';
import { createLiveTag, createMerchant, createPartner, createTag, type LiveTag } from './helpers/factories.js';

/**
 * The OpenAPI document against the server: every operation of the document is driven through
 * app.inject to each status it documents (success and every error), and each recorded answer is
 * held to the document: the status is listed, the content type is one declared for it, the body
 * validates against its schema (Ajv, JSON Schema 2020-12, the document's components), required
 * headers are there and every API header sent is documented with a value its schema accepts.
 * The last test fails when a documented status was never produced, so neither side can drift.
 */

type JsonSchema = Record<string, unknown>;
interface Response {
  description: string;
  headers?: Record<string, { required?: boolean; schema: JsonSchema }>;
  content?: Record<string, { schema: JsonSchema }>;
}
interface Operation {
  responses: Record<string, Response>;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components?: JsonSchema;
}

/** An answer as the client saw it. */
interface Recorded {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
}

/** Transport and browser-security headers, the same on every route: not part of any operation's contract. */
const GENERIC_HEADERS = new Set([
  'content-type',
  'content-length',
  'date',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'cache-control',
  'vary',
  'x-content-type-options',
  'x-frame-options',
  'referrer-policy',
  'content-security-policy',
  'access-control-allow-origin',
  'access-control-allow-credentials',
  'access-control-expose-headers',
  'x-accel-buffering',
]);

let main: TestContext;
/** Rate limits of one request a minute, so the second request of a caller is 429. */
let limited: TestContext;
/** Every query fails with an unexpected (non-connection) error: the routes' 500. */
let faulty: TestContext;
/** The database cannot be reached: the routes' 503. */
let down: TestContext;
let downDatabase: DatabaseHandle;
let streamBase: string;

/** Where the Admin API is served: the admin listener's instance, with a document of its own. */
const adminApp = (context: TestContext): App => context.admin;

let documents: Document[];
let partner: { token: string; partnerId: string };
let merchantId: string;
let customTagId: string;
let dnsDownTagId: string;
let live: LiveTag;
let other: { token: string };
let otherTagId: string;
let tokenToRevoke: string;
let trackerEtag: string;

/** DNS for verification: names under a "dns-down" domain time out, every other name has no CNAME. */
const fakeDns: DnsResolver = {
  session: () => ({
    cname: async (host) => {
      if (host.includes('dns-down')) throw new DnsUnavailableError(host, 'the DNS server did not answer in time');
      return { kind: 'nxdomain' };
    },
    txt: async () => ({ kind: 'nxdomain' }),
    close: () => undefined,
  }),
};

function faultyDatabase(handle: DatabaseHandle): DatabaseHandle {
  const fail = () => {
    throw new Error('injected fault: the query builder broke');
  };
  const db = new Proxy(handle.db, { get: () => fail });
  return { ...handle, db, run: () => Promise.reject(new Error('injected fault: the statement broke')) };
}

async function documentOf(app: App): Promise<Document> {
  const response = await app.inject({ method: 'GET', url: '/openapi.json' });
  expect(response.statusCode).toBe(200);
  return response.json<Document>();
}

beforeAll(async () => {
  main = await createTestApp({ MARKTAG_DNS_TIMEOUT_MS: '500' }, { dns: fakeDns });
  limited = await createTestApp({ MARKTAG_API_RATE_LIMIT: '1', MARKTAG_COLLECT_RATE_LIMIT: '1' });
  faulty = await createTestApp({}, { database: faultyDatabase(main.database) });
  downDatabase = openPostgres('postgres://marktag@127.0.0.1:9/none', { connectionTimeoutMillis: 500 });
  down = await createTestApp({}, { database: downDatabase });

  await main.app.listen({ port: 0, host: '127.0.0.1' });
  streamBase = `http://127.0.0.1:${(main.app.server.address() as AddressInfo).port}`;

  documents = [await documentOf(main.app)];
  if (adminApp(main) !== main.app) documents.push(await documentOf(adminApp(main)));

  const created = await createPartner(main.app);
  partner = { token: created.token, partnerId: created.partnerId };
  merchantId = await createMerchant(main.app, partner.token);
  customTagId = await createTag(main.app, partner.token, merchantId);
  const generated = await main.app.inject({
    method: 'POST',
    url: '/v1/partners/marktag/generate',
    headers: bearer(partner.token),
    payload: { merchantId, domain: `dns-down-${randomUUID().slice(0, 8)}.test` },
  });
  dnsDownTagId = generated.json<{ tagId: string }>().tagId;
  live = await createLiveTag(main.app);
  await seedEvents(main.database, { partnerId: live.partnerId, merchantId: live.merchantId, tagId: live.tagId }, [
    { at: new Date(), type: 'purchase', url: `https://${live.domain}/checkout` },
  ]);
  const second = await createPartner(main.app);
  other = { token: second.token };
  otherTagId = await createTag(main.app, other.token, await createMerchant(main.app, other.token));
  const issued = await adminApp(main).inject({
    method: 'POST',
    url: `/v1/admin/partners/${partner.partnerId}/tokens`,
    headers: bearer(ADMIN_TOKEN),
    payload: { name: 'to revoke' },
  });
  tokenToRevoke = issued.json<{ tokenId: string }>().tokenId;
});

afterAll(async () => {
  await Promise.all([main, limited, faulty, down].map((context) => context?.app.close()));
  await downDatabase?.close();
});

// ---------------------------------------------------------------------------------------------
// Holding one answer to the document

const ajv = new Ajv2020({ strict: false, allErrors: true });
(ajvFormats.default as unknown as (instance: Ajv2020) => void)(ajv);
const validators = new Map<JsonSchema, ValidateFunction>();

function validatorFor(schema: JsonSchema, components: JsonSchema | undefined): ValidateFunction {
  let validate = validators.get(schema);
  if (!validate) {
    // The document's components travel along, so its local references resolve.
    validate = ajv.compile({ ...schema, ...(components ? { components } : {}) });
    validators.set(schema, validate);
  }
  return validate;
}

function operationOf(route: string): { operation: Operation; document: Document } {
  const [method = '', path = ''] = route.split(' ');
  for (const document of documents) {
    const operation = document.paths[path]?.[method.toLowerCase()];
    if (operation) return { operation, document };
  }
  throw new Error(`${route} is not in the document`);
}

const covered = new Set<string>();

function holdToDocument(route: string, answer: Recorded): void {
  const { operation, document } = operationOf(route);
  const where = `${route} → ${answer.status}`;
  const documented = operation.responses[String(answer.status)];
  expect(documented, `${where}: the server answered a status the document does not list (${answer.body.slice(0, 200)})`).toBeDefined();
  if (!documented) return;
  covered.add(`${route} ${answer.status}`);

  const contentType = String(answer.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (!documented.content) {
    expect(answer.body, `${where}: the document declares no body`).toBe('');
  } else {
    const media = documented.content[contentType];
    expect(media, `${where}: content type "${contentType}" is not one of ${Object.keys(documented.content).join(', ')}`).toBeDefined();
    if (media) {
      const value: unknown = contentType === 'application/json' ? JSON.parse(answer.body) : answer.body;
      const validate = validatorFor(media.schema, document.components);
      expect(validate(value) ? [] : validate.errors, `${where}: the body does not match its schema: ${answer.body.slice(0, 300)}`).toEqual([]);
      if (answer.status >= 400 && contentType === 'application/json') {
        expect((value as { error: { requestId: string } }).error.requestId, `${where}: requestId`).toBe(answer.headers['x-request-id']);
      }
    }
  }

  const headers = documented.headers ?? {};
  for (const [name, definition] of Object.entries(headers)) {
    if (definition.required) expect(answer.headers[name], `${where}: required header ${name} is missing`).toBeDefined();
  }
  for (const [name, value] of Object.entries(answer.headers)) {
    if (GENERIC_HEADERS.has(name) || value === undefined) continue;
    const definition = headers[name];
    expect(definition, `${where}: sends header ${name}, which the document does not list for this status`).toBeDefined();
    if (!definition) continue;
    for (const single of Array.isArray(value) ? value : [String(value)]) {
      const validate = validatorFor(definition.schema, document.components);
      expect(validate(single) ? [] : validate.errors, `${where}: header ${name}: ${single}`).toEqual([]);
    }
  }
}

/** Sends a request, holds the answer to the document, and gives it back for the probe's own checks. */
async function probe(route: string, app: App, request: InjectOptions, expected: number): Promise<Recorded> {
  const response = await app.inject(request);
  const answer: Recorded = { status: response.statusCode, headers: response.headers, body: response.body };
  expect(answer.status, `${route}: ${answer.body.slice(0, 300)}`).toBe(expected);
  holdToDocument(route, answer);
  return answer;
}

// ---------------------------------------------------------------------------------------------
// Requests that provoke each documented answer

const BIG_JSON = JSON.stringify({ name: 'x'.repeat(1_100_000) });
const LONG_ID = 'x'.repeat(150);
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const xml = { 'content-type': 'application/xml' };
const asPartner = () => bearer(partner.token);
const asAdmin = () => bearer(ADMIN_TOKEN);
const random = () => randomUUID();

/**
 * The statuses every Partners API route answers the same way: 401, 429, 500 and 503. The live
 * stream tells a database outage as a 200 event stream that only says "retry" instead (a standard
 * EventSource would give up for good on a 503).
 */
async function partnerApiCommon(route: string, request: () => InjectOptions, outage: 'status' | 'event-stream' = 'status'): Promise<void> {
  const base = request();
  await probe(route, main.app, { ...base, headers: { ...base.headers, authorization: 'Bearer mp_live_nope' } }, 401);
  // One request a minute per token: a fresh partner's first call passes, its second is 429.
  const flooder = bearer((await createPartner(limited.app)).token);
  await probe('GET /v1/partners/me', limited.app, { method: 'GET', url: '/v1/partners/me', headers: flooder }, 200);
  await probe(route, limited.app, { ...base, headers: { ...base.headers, ...flooder } }, 429);
  await probe(route, faulty.app, { ...base, headers: { ...base.headers, ...asPartner() } }, 500);
  const unreachable = { ...base, headers: { ...base.headers, ...bearer(generateToken()) } };
  if (outage === 'event-stream') expect((await probe(route, down.app, unreachable, 200)).body).toMatch(/^retry: \d+\nevent: error\n/);
  else await probe(route, down.app, unreachable, 503);
}

async function adminCommon(route: string, request: () => InjectOptions): Promise<void> {
  const base = request();
  await probe(route, adminApp(main), { ...base, headers: { ...base.headers, authorization: 'Bearer not-the-admin-token' } }, 401);
  await probe(route, adminApp(faulty), base, 500);
  await probe(route, adminApp(down), base, 503);
}

async function jsonBodyRefusals(route: string, app: App, request: () => InjectOptions): Promise<void> {
  const base = request();
  await probe(route, app, { ...base, payload: BIG_JSON, headers: { ...base.headers, 'content-type': 'application/json' } }, 413);
  await probe(route, app, { ...base, payload: '<name>x</name>', headers: { ...base.headers, ...xml } }, 415);
}

const PROBES: Record<string, () => Promise<void>> = {
  'GET /healthz': async () => {
    await probe('GET /healthz', main.app, { method: 'GET', url: '/healthz' }, 200);
  },
  'GET /readyz': async () => {
    await probe('GET /readyz', main.app, { method: 'GET', url: '/readyz' }, 200);
    await probe('GET /readyz', down.app, { method: 'GET', url: '/readyz' }, 503);
  },
  'GET /mtag.js': async () => {
    const script = await probe('GET /mtag.js', main.app, { method: 'GET', url: '/mtag.js' }, 200);
    trackerEtag = String(script.headers.etag);
    await probe('GET /mtag.js', main.app, { method: 'GET', url: '/mtag.js', headers: { 'if-none-match': trackerEtag } }, 304);
  },
  'POST /v1/collect': async () => {
    const route = 'POST /v1/collect';
    const page = { origin: `https://${live.domain}`, 'user-agent': CHROME };
    const batch = (tagId: string) => ({ tagId, events: [{ type: 'page_view', url: `https://${live.domain}/` }] });
    const stored = await probe(route, main.app, { method: 'POST', url: '/v1/collect', headers: page, payload: batch(live.tagId) }, 202);
    expect(stored.headers['set-cookie']).toBeDefined();
    const beacon = { ...page, 'content-type': 'text/plain;charset=UTF-8' };
    await probe(route, main.app, { method: 'POST', url: '/v1/collect', headers: beacon, payload: JSON.stringify(batch(live.tagId)) }, 202);
    const bot = await probe(route, main.app, { method: 'POST', url: '/v1/collect', headers: { origin: page.origin, 'user-agent': 'Googlebot/2.1' }, payload: batch(live.tagId) }, 202);
    expect(bot.headers['x-marktag-ignored']).toBe('bot');
    await probe(route, main.app, { method: 'POST', url: '/v1/collect', headers: page, payload: { tagId: live.tagId, events: [] } }, 400);
    await probe(route, main.app, { method: 'POST', url: '/v1/collect', headers: page, payload: batch(customTagId) }, 403);
    await probe(route, main.app, { method: 'POST', url: '/v1/collect', headers: page, payload: batch(random()) }, 404);
    const big = JSON.stringify({ tagId: live.tagId, events: [{ type: 'page_view', url: `https://${live.domain}/${'x'.repeat(70_000)}` }] });
    await probe(route, main.app, { method: 'POST', url: '/v1/collect', headers: { ...page, 'content-type': 'application/json' }, payload: big }, 413);
    await probe(route, main.app, { method: 'POST', url: '/v1/collect', headers: { ...page, ...xml }, payload: '<events/>' }, 415);
    const unknownTag = batch(random());
    await probe(route, limited.app, { method: 'POST', url: '/v1/collect', headers: page, payload: unknownTag }, 404);
    await probe(route, limited.app, { method: 'POST', url: '/v1/collect', headers: page, payload: unknownTag }, 429);
    await probe(route, faulty.app, { method: 'POST', url: '/v1/collect', headers: page, payload: batch(random()) }, 500);
    await probe(route, down.app, { method: 'POST', url: '/v1/collect', headers: page, payload: batch(random()) }, 503);
  },

  'POST /v1/admin/partners': async () => {
    const route = 'POST /v1/admin/partners';
    const request = (): InjectOptions => ({ method: 'POST', url: '/v1/admin/partners', headers: asAdmin(), payload: { name: 'Contract Partner' } });
    await probe(route, adminApp(main), request(), 201);
    await probe(route, adminApp(main), { ...request(), payload: { name: 'Bad', domain: 'https://nope' } }, 400);
    const domain = `contract${random().slice(0, 8)}.test`;
    await probe(route, adminApp(main), { ...request(), payload: { name: 'First', domain } }, 201);
    await probe(route, adminApp(main), { ...request(), payload: { name: 'Second', domain: `shop.${domain}` } }, 409);
    await jsonBodyRefusals(route, adminApp(main), request);
    await adminCommon(route, request);
  },
  'GET /v1/admin/partners': async () => {
    const route = 'GET /v1/admin/partners';
    const request = (): InjectOptions => ({ method: 'GET', url: '/v1/admin/partners?limit=2', headers: asAdmin() });
    await probe(route, adminApp(main), request(), 200);
    await probe(route, adminApp(main), { ...request(), url: '/v1/admin/partners?limit=101' }, 400);
    await adminCommon(route, request);
  },
  'POST /v1/admin/partners/{partnerId}/tokens': async () => {
    const route = 'POST /v1/admin/partners/{partnerId}/tokens';
    const request = (id = partner.partnerId): InjectOptions => ({ method: 'POST', url: `/v1/admin/partners/${id}/tokens`, headers: asAdmin(), payload: { name: 'ci' } });
    await probe(route, adminApp(main), request(), 201);
    await probe(route, adminApp(main), request('not-a-uuid'), 400);
    await probe(route, adminApp(main), request(random()), 404);
    await probe(route, adminApp(main), request(LONG_ID), 414);
    await jsonBodyRefusals(route, adminApp(main), request);
    await adminCommon(route, request);
  },
  'GET /v1/admin/partners/{partnerId}/tokens': async () => {
    const route = 'GET /v1/admin/partners/{partnerId}/tokens';
    const request = (id = partner.partnerId): InjectOptions => ({ method: 'GET', url: `/v1/admin/partners/${id}/tokens`, headers: asAdmin() });
    await probe(route, adminApp(main), request(), 200);
    await probe(route, adminApp(main), request('not-a-uuid'), 400);
    await probe(route, adminApp(main), request(random()), 404);
    await probe(route, adminApp(main), request(LONG_ID), 414);
    await adminCommon(route, request);
  },
  'DELETE /v1/admin/tokens/{tokenId}': async () => {
    const route = 'DELETE /v1/admin/tokens/{tokenId}';
    const request = (id = tokenToRevoke): InjectOptions => ({ method: 'DELETE', url: `/v1/admin/tokens/${id}`, headers: asAdmin() });
    await probe(route, adminApp(main), request(), 204);
    await probe(route, adminApp(main), request('not-a-uuid'), 400);
    await probe(route, adminApp(main), request(random()), 404);
    await probe(route, adminApp(main), request(LONG_ID), 414);
    await adminCommon(route, request);
  },

  'GET /v1/partners/me': async () => {
    const route = 'GET /v1/partners/me';
    const request = (): InjectOptions => ({ method: 'GET', url: '/v1/partners/me', headers: asPartner() });
    await probe(route, main.app, request(), 200);
    await partnerApiCommon(route, request);
  },
  'GET /v1/partners/merchant': async () => {
    const route = 'GET /v1/partners/merchant';
    const request = (): InjectOptions => ({ method: 'GET', url: '/v1/partners/merchant', headers: asPartner() });
    await probe(route, main.app, request(), 200);
    await probe(route, main.app, { ...request(), url: '/v1/partners/merchant?limit=101' }, 400);
    await partnerApiCommon(route, request);
  },
  'POST /v1/partners/merchant': async () => {
    const route = 'POST /v1/partners/merchant';
    const key = random();
    const request = (): InjectOptions => ({ method: 'POST', url: '/v1/partners/merchant', headers: { ...asPartner(), 'idempotency-key': key }, payload: { name: 'Contract Merchant' } });
    await probe(route, main.app, request(), 201);
    const replay = await probe(route, main.app, request(), 201);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    await probe(route, main.app, { ...request(), payload: { name: 'Another body' } }, 409);
    await probe(route, main.app, { ...request(), headers: asPartner(), payload: { name: '' } }, 400);
    await jsonBodyRefusals(route, main.app, () => ({ ...request(), headers: asPartner() }));
    await partnerApiCommon(route, () => ({ ...request(), headers: {} }));
  },
  'POST /v1/partners/events': async () => {
    const route = 'POST /v1/partners/events';
    const request = (tagId = live.tagId): InjectOptions => ({
      method: 'POST',
      url: '/v1/partners/events',
      headers: bearer(live.token),
      payload: { tagId, events: [{ type: 'purchase', userId: 'contract-user', value: 5, currency: 'EUR' }] },
    });
    await probe(route, main.app, request(), 202);
    await probe(route, main.app, { ...request(), payload: { tagId: live.tagId, events: [{ type: 'purchase' }] } }, 400);
    await probe(route, main.app, request(random()), 404);
    await jsonBodyRefusals(route, main.app, request);
    await partnerApiCommon(route, () => ({ ...request(), headers: {} }));
  },
  'GET /v1/partners/merchant/{merchantId}': async () => {
    const route = 'GET /v1/partners/merchant/{merchantId}';
    const request = (id = merchantId): InjectOptions => ({ method: 'GET', url: `/v1/partners/merchant/${id}`, headers: asPartner() });
    await probe(route, main.app, request(), 200);
    await probe(route, main.app, request('not-a-uuid'), 400);
    await probe(route, main.app, request(random()), 404);
    await probe(route, main.app, request(LONG_ID), 414);
    await partnerApiCommon(route, request);
  },
  'PATCH /v1/partners/merchant/{merchantId}': async () => {
    const route = 'PATCH /v1/partners/merchant/{merchantId}';
    const request = (id = merchantId): InjectOptions => ({ method: 'PATCH', url: `/v1/partners/merchant/${id}`, headers: asPartner(), payload: { name: 'Renamed' } });
    await probe(route, main.app, request(), 200);
    await probe(route, main.app, { ...request(), payload: { name: 42 } }, 400);
    await probe(route, main.app, request(random()), 404);
    await probe(route, main.app, request(LONG_ID), 414);
    await jsonBodyRefusals(route, main.app, request);
    await partnerApiCommon(route, request);
  },
  'POST /v1/partners/marktag/generate': async () => {
    const route = 'POST /v1/partners/marktag/generate';
    const key = random();
    const request = (): InjectOptions => ({
      method: 'POST',
      url: '/v1/partners/marktag/generate',
      headers: { ...asPartner(), 'idempotency-key': key },
      payload: { merchantId, domain: `g${randomUUID().slice(0, 8)}.test` },
    });
    const first = request();
    await probe(route, main.app, first, 200);
    await probe(route, main.app, first, 200);
    await probe(route, main.app, request(), 409);
    await probe(route, main.app, { ...request(), headers: asPartner(), payload: { merchantId, domain: 'www.example.com' } }, 400);
    await probe(route, main.app, { ...request(), headers: asPartner(), payload: { merchantId: random(), domain: 'example.com' } }, 404);
    await jsonBodyRefusals(route, main.app, () => ({ ...request(), headers: asPartner() }));
    await partnerApiCommon(route, () => ({ ...request(), headers: {} }));
  },
  'POST /v1/partners/marktag/verify': async () => {
    const route = 'POST /v1/partners/marktag/verify';
    const verify = (tagId: string, subdomain: string, headers = asPartner()): InjectOptions => ({
      method: 'POST',
      url: '/v1/partners/marktag/verify',
      headers,
      payload: { tagId, subdomain },
    });
    await probe(route, main.app, verify(live.tagId, live.domain, bearer(live.token)), 200);
    await probe(route, main.app, verify(customTagId, 'shop.elsewhere.test'), 400);
    await probe(route, main.app, verify(otherTagId, 'shop.elsewhere.test'), 403);
    await probe(route, main.app, verify(random(), 'shop.elsewhere.test'), 404);
    // Verify is not idempotency-cached: the same key with another request is simply run again.
    const key = { ...asPartner(), 'idempotency-key': random() };
    await probe(route, main.app, verify(random(), 'shop.first.test', key), 404);
    await probe(route, main.app, verify(random(), 'shop.second.test', key), 404);
    const custom = await main.app.inject({ method: 'GET', url: `/v1/partners/marktag/${customTagId}`, headers: asPartner() });
    await probe(route, main.app, verify(customTagId, `shop.${custom.json<{ domain: string }>().domain}`), 422);
    const dnsDown = await main.app.inject({ method: 'GET', url: `/v1/partners/marktag/${dnsDownTagId}`, headers: asPartner() });
    await probe(route, main.app, verify(dnsDownTagId, `shop.${dnsDown.json<{ domain: string }>().domain}`), 503);
    await jsonBodyRefusals(route, main.app, () => verify(customTagId, 'shop.example.com'));
    await partnerApiCommon(route, () => verify(customTagId, 'shop.example.com', {}));
  },
  'GET /v1/partners/marktag/{tagId}': async () => {
    const route = 'GET /v1/partners/marktag/{tagId}';
    const request = (id = customTagId): InjectOptions => ({ method: 'GET', url: `/v1/partners/marktag/${id}`, headers: asPartner() });
    await probe(route, main.app, request(), 200);
    await probe(route, main.app, request('not-a-uuid'), 400);
    await probe(route, main.app, request(random()), 404);
    await probe(route, main.app, request(LONG_ID), 414);
    await partnerApiCommon(route, request);
  },
  'GET /v1/partners/marktag/{tagId}/diagnostics': async () => {
    const route = 'GET /v1/partners/marktag/{tagId}/diagnostics';
    const request = (id = customTagId): InjectOptions => ({ method: 'GET', url: `/v1/partners/marktag/${id}/diagnostics`, headers: asPartner() });
    await probe(route, main.app, request(), 200);
    await probe(route, main.app, request('not-a-uuid'), 400);
    await probe(route, main.app, request(random()), 404);
    await probe(route, main.app, request(LONG_ID), 414);
    await partnerApiCommon(route, request);
  },
  'GET /v1/partners/events': async () => {
    const route = 'GET /v1/partners/events';
    const request = (query = `merchantId=${live.merchantId}`): InjectOptions => ({ method: 'GET', url: `/v1/partners/events?${query}`, headers: bearer(live.token) });
    const page = await probe(route, main.app, request(), 200);
    expect(page.body).toContain(live.tagId);
    await probe(route, main.app, request('from=yesterday'), 400);
    await probe(route, main.app, request(`merchantId=${random()}`), 404);
    await partnerApiCommon(route, request);
  },
  'GET /v1/partners/events/summary': async () => {
    const route = 'GET /v1/partners/events/summary';
    const request = (query = `merchantId=${live.merchantId}`): InjectOptions => ({ method: 'GET', url: `/v1/partners/events/summary?${query}`, headers: bearer(live.token) });
    await probe(route, main.app, request(), 200);
    await probe(route, main.app, request(`merchantId=${live.merchantId}&timezone=Mars/Olympus`), 400);
    await probe(route, main.app, request(`merchantId=${random()}`), 404);
    await partnerApiCommon(route, request);
  },
  'GET /v1/partners/events/export': async () => {
    const route = 'GET /v1/partners/events/export';
    const request = (query = `merchantId=${live.merchantId}`): InjectOptions => ({ method: 'GET', url: `/v1/partners/events/export?${query}`, headers: bearer(live.token) });
    const ndjson = await probe(route, main.app, request(), 200);
    expect(ndjson.body).toContain(live.tagId);
    const csv = await probe(route, main.app, request(`merchantId=${live.merchantId}&format=csv`), 200);
    expect(String(csv.headers['content-type'])).toMatch(/^text\/csv/);
    await probe(route, main.app, request('format=xml'), 400);
    await probe(route, main.app, request(`merchantId=${random()}`), 404);
    await partnerApiCommon(route, request);
  },
  'GET /v1/partners/events/stream': async () => {
    const route = 'GET /v1/partners/events/stream';
    // A live stream never ends, so it is read over a real connection until its first message.
    const abort = new AbortController();
    const response = await fetch(`${streamBase}/v1/partners/events/stream?merchantId=${live.merchantId}`, {
      headers: { ...bearer(live.token), 'last-event-id': '0' },
      signal: abort.signal,
    });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    abort.abort();
    expect(response.status).toBe(200);
    holdToDocument(route, {
      status: response.status,
      headers: Object.fromEntries(response.headers.entries()),
      body: new TextDecoder().decode(first.value),
    });
    const request = (query = `merchantId=${live.merchantId}`): InjectOptions => ({ method: 'GET', url: `/v1/partners/events/stream?${query}`, headers: bearer(live.token) });
    await probe(route, main.app, request('type=NOT-A-TYPE'), 400);
    await probe(route, main.app, request(`merchantId=${random()}`), 404);
    await partnerApiCommon(route, request, 'event-stream');
  },
};

describe('every answer of every route matches the OpenAPI document', () => {
  it('has a probe for every operation of the document, and no probe for one it lacks', () => {
    const operations = documents.flatMap((document) =>
      Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`)),
    );
    expect([...new Set(operations)].sort()).toEqual(Object.keys(PROBES).sort());
  });

  for (const [route, run] of Object.entries(PROBES)) {
    it(`${route}: success and each documented error`, run);
  }

  it('produced every status the document lists', () => {
    const documented = documents.flatMap((document) =>
      Object.entries(document.paths).flatMap(([path, methods]) =>
        Object.entries(methods).flatMap(([method, operation]) => Object.keys(operation.responses).map((status) => `${method.toUpperCase()} ${path} ${status}`)),
      ),
    );
    expect([...new Set(documented)].filter((entry) => !covered.has(entry)).sort()).toEqual([]);
  });
});
