import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestContext } from './helpers/app.js';
import { createPartner } from './helpers/factories.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestApp();
});
afterAll(async () => ctx.app.close());

interface Operation {
  operationId?: string;
  summary?: string;
  tags?: string[];
  security?: unknown[];
  parameters?: { name: string; in: string; schema: Record<string, unknown>; required?: boolean }[];
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
  responses: Record<
    string,
    {
      description: string;
      headers?: Record<string, { required?: boolean; schema: Record<string, unknown> }>;
      content?: Record<string, { schema: Record<string, unknown> }>;
    }
  >;
}
interface Spec {
  openapi: string;
  info: { title: string; version: string; contact?: { name?: string; url?: string }; license?: { name: string; identifier?: string } };
  servers?: { url: string }[];
  tags: { name: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, unknown> };
}

/** The public listener's document, or the admin listener's. */
async function spec(listener: 'public' | 'admin' = 'public'): Promise<Spec> {
  const response = await (listener === 'public' ? ctx.app : ctx.admin).inject({ method: 'GET', url: '/openapi.json' });
  expect(response.statusCode).toBe(200);
  return response.json<Spec>();
}

const errorCodes = (operation: Operation | undefined, status: string): unknown =>
  (operation?.responses[status]?.content?.['application/json']?.schema as {
    properties: { error: { properties: { code: { enum: string[] } } } };
  }).properties.error.properties.code.enum;

describe('/openapi.json', () => {
  it('is OpenAPI 3.1 with the partner bearer scheme', async () => {
    const document = await spec();
    expect(document.openapi).toBe('3.1.0');
    expect(document.info.title).toBe('MarkTag Partners API');
    expect(Object.keys(document.components.securitySchemes)).toEqual(['partnerToken']);
  });

  it('lists no admin route, tag or scheme: those belong to the admin listener', async () => {
    const document = await spec();
    expect(Object.keys(document.paths).filter((path) => path.startsWith('/v1/admin'))).toEqual([]);
    expect(document.tags.map((tag) => tag.name)).not.toContain('Admin');
    expect(JSON.stringify(document)).not.toContain('adminToken');
  });

  it('on the admin listener, lists the Admin API only, with the admin bearer scheme', async () => {
    const document = await spec('admin');
    expect(document.openapi).toBe('3.1.0');
    expect(document.info.title).toBe('MarkTag Admin API');
    expect(Object.keys(document.components.securitySchemes)).toEqual(['adminToken']);
    expect(document.tags.map((tag) => tag.name)).toEqual(['Admin']);
    expect(Object.keys(document.paths).sort()).toEqual([
      '/v1/admin/partners',
      '/v1/admin/partners/{partnerId}/tokens',
      '/v1/admin/tokens/{tokenId}',
    ]);
  });

  it.each(['public', 'admin'] as const)('documents every %s route with an operationId, tags, and its error responses', async (listener) => {
    const document = await spec(listener);
    const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({ path, method, operation })),
    );
    expect(operations.length).toBeGreaterThanOrEqual(listener === 'public' ? 12 : 5);
    const ids = operations.map(({ operation }) => operation.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { path, operation } of operations) {
      expect(operation.operationId, path).toBeTruthy();
      expect(operation.tags?.length, path).toBeGreaterThan(0);
      if (path.startsWith('/v1/partners') || path.startsWith('/v1/admin')) {
        expect(operation.security, path).toBeDefined();
        expect(operation.responses['401'], path).toBeDefined();
      }
    }
  });

  it('matches merchants-api.txt: parameters, constraints, bodies, status codes and error codes', async () => {
    const document = await spec();
    const list = document.paths['/v1/partners/merchant']?.get;
    const page = list?.parameters?.find((p) => p.name === 'page');
    const limit = list?.parameters?.find((p) => p.name === 'limit');
    expect(page).toMatchObject({ in: 'query', schema: { type: 'integer', minimum: 1, default: 1 } });
    expect(limit).toMatchObject({ in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 10 } });
    expect(Object.keys(list?.responses ?? {}).sort()).toEqual(['200', '400', '401', '429', '500', '503']);
    expect(errorCodes(list, '400')).toEqual(['VALIDATION_ERROR']);
    expect(errorCodes(list, '401')).toEqual(['AUTHENTICATION_ERROR']);
    expect(errorCodes(list, '500')).toEqual(['SERVICE_ERROR']);
    expect(list?.responses['400']?.description).toBe('Invalid pagination parameters (page < 1 or limit > 100)');

    const item = list?.responses['200']?.content?.['application/json']?.schema as {
      properties: { merchants: { items: { required: string[] } }; pagination: { required: string[] } };
    };
    expect(item.properties.merchants.items.required).toEqual(['merchantId', 'name', 'createdAt', 'marktags']);
    expect(item.properties.pagination.required).toEqual([
      'currentPage',
      'itemsPerPage',
      'totalItems',
      'totalPages',
      'hasNextPage',
      'hasPreviousPage',
    ]);

    const create = document.paths['/v1/partners/merchant']?.post;
    expect(Object.keys(create?.responses ?? {}).sort()).toEqual(['201', '400', '401', '409', '413', '415', '429', '500', '503']);
    expect(create?.responses['400']?.description).toBe('Missing or invalid merchant name');
    const body = create?.requestBody?.content['application/json']?.schema as { required: string[]; properties: { name: object } };
    expect(body.required).toEqual(['name']);
    expect(body.properties.name).toMatchObject({ type: 'string', minLength: 1, examples: ['Acme Corporation'] });
    expect(create?.parameters?.find((p) => p.name === 'idempotency-key')).toMatchObject({ in: 'header' });
  });

  it('matches marktag-api.txt: status codes and error codes of generate and verify', async () => {
    const document = await spec();
    const generate = document.paths['/v1/partners/marktag/generate']?.post;
    expect(Object.keys(generate?.responses ?? {}).sort()).toEqual(['200', '400', '401', '404', '409', '413', '415', '429', '500', '503']);
    expect(errorCodes(generate, '401')).toEqual(['UNAUTHORIZED']);
    expect(errorCodes(generate, '404')).toEqual(['MERCHANT_NOT_FOUND']);
    expect(errorCodes(generate, '500')).toEqual(['DATABASE_ERROR', 'VALIDATION_ERROR', 'SERVICE_UNAVAILABLE']);
    expect(errorCodes(generate, '503')).toEqual(['SERVICE_UNAVAILABLE']);
    const body = generate?.requestBody?.content['application/json']?.schema as { properties: { domain: { pattern: string } } };
    expect(body.properties.domain.pattern).toBe('^(?!.*:\\/\\/)(?!www\\.)([a-zA-Z0-9-]+\\.)+[a-zA-Z]{2,}$');

    const verify = document.paths['/v1/partners/marktag/verify']?.post;
    expect(Object.keys(verify?.responses ?? {}).sort()).toEqual(['200', '400', '401', '403', '404', '413', '415', '422', '429', '500', '503']);
    expect(errorCodes(verify, '403')).toEqual(['ACCESS_DENIED']);
    expect(errorCodes(verify, '404')).toEqual(['TAG_NOT_FOUND']);
    expect(errorCodes(verify, '422')).toEqual(['VALIDATION_ERROR']);
    expect(errorCodes(verify, '500')).toEqual(['DATABASE_ERROR']);
    expect(errorCodes(verify, '503')).toEqual(['EXTERNAL_SERVICE_ERROR', 'SERVICE_UNAVAILABLE']);
    const verifyBody = verify?.requestBody?.content['application/json']?.schema as { properties: { subdomain: { pattern: string } } };
    expect(verifyBody.properties.subdomain.pattern).toBe('^(?!.*:\\/\\/)([a-zA-Z0-9-]+\\.)*[a-zA-Z0-9-]+\\.[a-zA-Z]{2,}$');
  });

  it('carries examples on response fields', async () => {
    const document = await spec();
    const created = document.paths['/v1/partners/merchant']?.post?.responses['201']?.content?.['application/json']?.schema as {
      properties: { merchantId: { examples: string[] } };
    };
    expect(created.properties.merchantId.examples).toEqual(['550e8400-e29b-41d4-a716-446655440001']);
  });
});

function operationsOf(document: Spec): { route: string; operation: Operation }[] {
  return Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ route: `${method.toUpperCase()} ${path}`, operation })),
  );
}

const operation = (document: Spec, route: string): Operation => {
  const found = operationsOf(document).find((entry) => entry.route === route)?.operation;
  if (!found) throw new Error(`no operation ${route}`);
  return found;
};

describe('/openapi.json as generated clients and contract testers read it', () => {
  it('never requires a query parameter that has a default (the default applies when it is left out)', async () => {
    const document = await spec();
    const both = [...operationsOf(document), ...operationsOf(await spec('admin'))];
    const defaulted = both.flatMap(({ route, operation }) =>
      (operation.parameters ?? []).filter((p) => 'default' in p.schema).map((p) => ({ route, name: p.name, required: p.required ?? false })),
    );
    expect(defaulted.map(({ route, name }) => `${route} ${name}`).sort()).toEqual([
      'GET /v1/admin/partners limit',
      'GET /v1/admin/partners page',
      'GET /v1/partners/events limit',
      'GET /v1/partners/events/export format',
      'GET /v1/partners/events/summary interval',
      'GET /v1/partners/events/summary timezone',
      'GET /v1/partners/merchant limit',
      'GET /v1/partners/merchant page',
    ]);
    expect(defaulted.filter(({ required }) => required)).toEqual([]);
    // Parameters without a default keep their flag: summary still needs its merchant.
    expect(operation(document, 'GET /v1/partners/events/summary').parameters?.find((p) => p.name === 'merchantId')?.required).toBe(true);
  });

  it('still applies the defaults and refuses unknown query parameters', async () => {
    const { token } = await createPartner(ctx.app);
    const list = await ctx.app.inject({ method: 'GET', url: '/v1/partners/merchant', headers: bearer(token) });
    expect(list.json<{ pagination: { currentPage: number; itemsPerPage: number } }>().pagination).toMatchObject({ currentPage: 1, itemsPerPage: 10 });
    const unknown = await ctx.app.inject({ method: 'GET', url: '/v1/partners/merchant?pgae=2', headers: bearer(token) });
    expect(unknown.statusCode).toBe(400);
  });

  it('declares the media type each route really answers', async () => {
    const document = await spec();
    const mediaTypes = (route: string, status: string) => Object.keys(operation(document, route).responses[status]?.content ?? {});
    expect(mediaTypes('GET /mtag.js', '200')).toEqual(['application/javascript']);
    expect(mediaTypes('GET /v1/partners/events/stream', '200')).toEqual(['text/event-stream']);
    expect(mediaTypes('GET /v1/partners/events/export', '200')).toEqual(['application/x-ndjson', 'text/csv']);
    expect(mediaTypes('GET /v1/partners/events/export', '400')).toEqual(['application/json']);
    expect(mediaTypes('GET /v1/partners/merchant', '200')).toEqual(['application/json']);
    expect(Object.keys(operation(document, 'POST /v1/collect').requestBody?.content ?? {})).toEqual(['application/json', 'text/plain']);
  });

  it('documents the response headers clients act on', async () => {
    const document = await spec();
    const headers = (route: string, status: string) => operation(document, route).responses[status]?.headers ?? {};
    for (const { route, operation: op } of operationsOf(document)) {
      for (const [status, response] of Object.entries(op.responses)) {
        expect(response.headers?.['x-request-id']?.required, `${route} ${status}`).toBe(true);
        if (status === '429' || status === '503') expect(response.headers?.['retry-after']?.required, `${route} ${status}`).toBe(true);
        if (route.includes(' /v1/partners/')) expect(response.headers?.['x-ratelimit-remaining'], `${route} ${status}`).toBeDefined();
      }
    }
    expect(headers('GET /mtag.js', '200').etag?.required).toBe(true);
    expect(headers('GET /mtag.js', '304').etag?.required).toBe(true);
    expect(headers('GET /v1/partners/events/export', '200')['content-disposition']?.required).toBe(true);
    expect(headers('POST /v1/collect', '202')['x-marktag-ignored']).toMatchObject({ schema: { enum: ['bot'] } });
    expect(headers('POST /v1/partners/merchant', '201')['idempotent-replayed']).toBeDefined();
    expect(headers('POST /v1/partners/marktag/generate', '200')['idempotent-replayed']).toBeDefined();
    expect(headers('GET /v1/partners/merchant', '200')['idempotent-replayed']).toBeUndefined();
  });

  it('lists 413 and 415 on every route that reads a JSON body', async () => {
    const withBody = [...operationsOf(await spec()), ...operationsOf(await spec('admin'))].filter(({ operation }) => operation.requestBody?.content['application/json']);
    expect(withBody.length).toBeGreaterThanOrEqual(7);
    for (const { route, operation } of withBody) {
      expect(errorCodes(operation, '413'), route).toEqual(['PAYLOAD_TOO_LARGE']);
      expect(errorCodes(operation, '415'), route).toEqual(['UNSUPPORTED_MEDIA_TYPE']);
    }
  });

  it('marks the public operations as needing no credentials', async () => {
    const document = await spec();
    const open = operationsOf(document).filter(({ operation }) => Array.isArray(operation.security) && operation.security.length === 0);
    expect(open.map(({ route }) => route).sort()).toEqual(['GET /healthz', 'GET /mtag.js', 'GET /readyz', 'POST /v1/collect']);
    for (const { route, operation } of operationsOf(document)) expect(operation.security, route).toBeDefined();
  });

  it('names a contact, the licence, and this server from MARKTAG_PUBLIC_URL', async () => {
    const other = await createTestApp({ MARKTAG_PUBLIC_URL: 'https://api.shop-platform.test' });
    try {
      const document = (await other.app.inject({ method: 'GET', url: '/openapi.json' })).json<Spec>();
      expect(document.servers?.[0]?.url).toBe('https://api.shop-platform.test');
      expect(document.info.contact?.url).toBe('https://api.shop-platform.test');
      expect(document.info.license).toEqual({ name: 'MIT', identifier: 'MIT' });
    } finally {
      await other.app.close();
    }
  });
});

describe('/docs', () => {
  it.each(['public', 'admin'] as const)('serves the interactive reference on the %s listener', async (listener) => {
    const target = listener === 'public' ? ctx.app : ctx.admin;
    const response = await target.inject({ method: 'GET', url: '/docs' });
    const page = response.statusCode === 302 ? await target.inject({ method: 'GET', url: String(response.headers.location) }) : response;
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain('swagger');
  });
});

describe('documented examples', () => {
  it('carries the success example of merchants-api.txt verbatim', async () => {
    const document = await spec();
    // A whole-body example becomes the media type's `example`.
    const media = document.paths['/v1/partners/merchant']?.get?.responses['200']?.content?.['application/json'] as unknown as {
      example: { merchants: { marktags: unknown[] }[]; pagination: object };
    };
    expect(media.example.pagination).toEqual({
      currentPage: 1,
      itemsPerPage: 10,
      totalItems: 100,
      totalPages: 10,
      hasNextPage: true,
      hasPreviousPage: false,
    });
    expect(media.example.merchants[0]?.marktags).toHaveLength(2);
  });
});
