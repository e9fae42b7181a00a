import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestContext } from './helpers/app.js';

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
  responses: Record<string, { description: string; content?: Record<string, { schema: Record<string, unknown> }> }>;
}
interface Spec {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, unknown> };
}

async function spec(): Promise<Spec> {
  const response = await ctx.app.inject({ method: 'GET', url: '/openapi.json' });
  expect(response.statusCode).toBe(200);
  return response.json<Spec>();
}

const errorCodes = (operation: Operation | undefined, status: string): unknown =>
  (operation?.responses[status]?.content?.['application/json']?.schema as {
    properties: { error: { properties: { code: { enum: string[] } } } };
  }).properties.error.properties.code.enum;

describe('/openapi.json', () => {
  it('is OpenAPI 3.1 with both bearer schemes', async () => {
    const document = await spec();
    expect(document.openapi).toBe('3.1.0');
    expect(document.info.title).toBe('MarkTag Partners API');
    expect(Object.keys(document.components.securitySchemes).sort()).toEqual(['adminToken', 'partnerToken']);
  });

  it('documents every route with an operationId, tags, and its error responses', async () => {
    const document = await spec();
    const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({ path, method, operation })),
    );
    expect(operations.length).toBeGreaterThanOrEqual(12);
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
    expect(Object.keys(create?.responses ?? {}).sort()).toEqual(['201', '400', '401', '409', '429', '500', '503']);
    expect(create?.responses['400']?.description).toBe('Missing or invalid merchant name');
    const body = create?.requestBody?.content['application/json']?.schema as { required: string[]; properties: { name: object } };
    expect(body.required).toEqual(['name']);
    expect(body.properties.name).toMatchObject({ type: 'string', minLength: 1, examples: ['Acme Corporation'] });
    expect(create?.parameters?.find((p) => p.name === 'idempotency-key')).toMatchObject({ in: 'header' });
  });

  it('matches marktag-api.txt: status codes and error codes of generate and verify', async () => {
    const document = await spec();
    const generate = document.paths['/v1/partners/marktag/generate']?.post;
    expect(Object.keys(generate?.responses ?? {}).sort()).toEqual(['200', '400', '401', '404', '409', '429', '500', '503']);
    expect(errorCodes(generate, '401')).toEqual(['UNAUTHORIZED']);
    expect(errorCodes(generate, '404')).toEqual(['MERCHANT_NOT_FOUND']);
    expect(errorCodes(generate, '500')).toEqual(['DATABASE_ERROR', 'VALIDATION_ERROR', 'SERVICE_UNAVAILABLE']);
    expect(errorCodes(generate, '503')).toEqual(['SERVICE_UNAVAILABLE']);
    const body = generate?.requestBody?.content['application/json']?.schema as { properties: { domain: { pattern: string } } };
    expect(body.properties.domain.pattern).toBe('^(?!.*:\\/\\/)(?!www\\.)([a-zA-Z0-9-]+\\.)+[a-zA-Z]{2,}$');

    const verify = document.paths['/v1/partners/marktag/verify']?.post;
    expect(Object.keys(verify?.responses ?? {}).sort()).toEqual(['200', '400', '401', '403', '404', '422', '429', '500', '503']);
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

describe('/docs', () => {
  it('serves the interactive reference', async () => {
    const response = await ctx.app.inject({ method: 'GET', url: '/docs' });
    const page = response.statusCode === 302 ? await ctx.app.inject({ method: 'GET', url: String(response.headers.location) }) : response;
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
