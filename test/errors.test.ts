import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres } from '../src/db/client.js';
import { merchants } from '../src/db/schema/index.js';
import { loggerOptions } from '../src/logger.js';
import { generateToken } from '../src/modules/tokens/token-format.js';
import { ADMIN_TOKEN, bearer, createTestApp, errorOf, type TestContext } from './helpers/app.js';
import { SECRET_DRIVER_TEXT, withFault } from './helpers/broken-database.js';
import { testDatabase } from './helpers/database.js';
import { createMerchant, createPartner } from './helpers/factories.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestApp({ MARKTAG_BODY_LIMIT_BYTES: '2048' });
});
afterAll(async () => ctx.app.close());

describe('request ids', () => {
  it('sends x-request-id on every answer, equal to the error body’s requestId', async () => {
    const ok = await ctx.app.inject({ method: 'GET', url: '/healthz' });
    expect(ok.headers['x-request-id']).toMatch(/^req_[0-9a-f]{32}$/);
    const notFound = await ctx.app.inject({ method: 'GET', url: '/nope' });
    expect(errorOf(notFound).requestId).toBe(notFound.headers['x-request-id']);
  });

  it('keeps a sane incoming x-request-id and replaces an unsafe one', async () => {
    const kept = await ctx.app.inject({ method: 'GET', url: '/nope', headers: { 'x-request-id': 'trace-abc.123:4' } });
    expect(kept.headers['x-request-id']).toBe('trace-abc.123:4');
    expect(errorOf(kept).requestId).toBe('trace-abc.123:4');
    for (const unsafe of ['has space', 'x'.repeat(129), 'quote"d', '<script>']) {
      const replaced = await ctx.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': unsafe } });
      expect(replaced.headers['x-request-id']).toMatch(/^req_/);
    }
  });
});

describe('the one error body', () => {
  it('answers unknown routes 404 NOT_FOUND', async () => {
    for (const [method, url] of [
      ['GET', '/v2/anything'],
      ['DELETE', '/v1/partners/merchant'],
      ['GET', '/v1/partners/unknown?x=1'],
    ] as const) {
      const response = await ctx.app.inject({ method, url });
      expect(response.statusCode).toBe(404);
      const error = errorOf(response);
      expect(error.code).toBe('NOT_FOUND');
      expect(error.message).toBe(`No route ${method} ${url.split('?')[0]}`);
    }
  });

  it('answers an over-long path parameter or a malformed URL in the envelope too', async () => {
    const { token } = await createPartner(ctx.app);
    const long = await ctx.app.inject({ method: 'GET', url: `/v1/partners/merchant/${'x'.repeat(500)}`, headers: bearer(token) });
    expect(long.statusCode).toBe(414);
    expect(errorOf(long)).toMatchObject({ code: 'VALIDATION_ERROR', message: 'A path parameter is too long' });
  });

  it('answers a too-large body 413 PAYLOAD_TOO_LARGE', async () => {
    const { token } = await createPartner(ctx.app);
    const response = await ctx.app.inject({
      method: 'POST',
      url: '/v1/partners/merchant',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'x'.repeat(4096) }),
    });
    expect(response.statusCode).toBe(413);
    expect(errorOf(response)).toMatchObject({ code: 'PAYLOAD_TOO_LARGE', message: 'Request body is too large' });
  });

  it('answers 415 UNSUPPORTED_MEDIA_TYPE for a body that is not JSON', async () => {
    const response = await ctx.admin.inject({
      method: 'POST',
      url: '/v1/admin/partners',
      headers: { ...bearer(ADMIN_TOKEN), 'content-type': 'text/csv' },
      payload: 'name\nAcme',
    });
    expect(response.statusCode).toBe(415);
    expect(errorOf(response).code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('refuses prototype pollution in JSON bodies', async () => {
    const response = await ctx.admin.inject({
      method: 'POST',
      url: '/v1/admin/partners',
      headers: { ...bearer(ADMIN_TOKEN), 'content-type': 'application/json' },
      payload: '{"name":"x","__proto__":{"admin":true}}',
    });
    expect(response.statusCode).toBe(400);
    expect(errorOf(response).code).toBe('VALIDATION_ERROR');
  });
});

describe('unexpected failures', () => {
  it('answer 500 with the endpoint’s documented code and no internal text', async () => {
    const lines: string[] = [];
    const broken = await createTestApp(
      {},
      {
        database: withFault(await testDatabase(), { kind: 'select-throws', table: merchants }),
        logger: { ...loggerOptions('info', false), stream: new Writable({ write: (chunk: Buffer, _e, done) => done(void lines.push(chunk.toString())) }) },
      },
    );
    try {
      const { token } = await createPartner(broken.app);
      const merchantId = await createMerchant(broken.app, token);
      for (const url of ['/v1/partners/merchant', `/v1/partners/merchant/${merchantId}`]) {
        const response = await broken.app.inject({ method: 'GET', url, headers: bearer(token) });
        expect(response.statusCode).toBe(500);
        const error = errorOf(response);
        expect(error.code).toBe('SERVICE_ERROR');
        expect(response.body).not.toContain('hunter2');
        expect(response.body).not.toContain('merchants');
        expect(response.body).not.toMatch(/at .*\.ts:\d+/);
      }
      // The operator sees the cause in the log, joined by request id.
      expect(lines.join('')).toContain(SECRET_DRIVER_TEXT.split(' ')[0]);
    } finally {
      await broken.app.close();
    }
  });
});

describe('an unreachable database', () => {
  let down: TestContext;
  beforeAll(async () => {
    const database = openPostgres('postgres://marktag@127.0.0.1:1/none', { connectionTimeoutMillis: 1000 });
    down = await createTestApp({}, { database });
  });
  afterAll(async () => {
    await down.app.close();
    await down.database.close();
  });

  it('answers API calls 503 SERVICE_UNAVAILABLE with Retry-After', async () => {
    // A well-formed token: a malformed one is refused before the database is asked.
    const partnerToken = generateToken();
    for (const request of [
      { method: 'GET' as const, url: '/v1/partners/merchant', headers: bearer(partnerToken) },
      { method: 'GET' as const, url: '/v1/admin/partners', headers: bearer(ADMIN_TOKEN) },
      { method: 'POST' as const, url: '/v1/admin/partners', headers: bearer(ADMIN_TOKEN), payload: { name: 'x' } },
    ]) {
      const started = Date.now();
      const response = await (request.url.startsWith('/v1/admin') ? down.admin : down.app).inject(request);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBe('5');
      const error = errorOf(response);
      expect(error.code).toBe('SERVICE_UNAVAILABLE');
      expect(response.body).not.toContain('ECONNREFUSED');
      expect(response.body).not.toContain('127.0.0.1');
    }
  });

  it('is not ready, but alive', async () => {
    const ready = await down.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(errorOf(ready).code).toBe('SERVICE_UNAVAILABLE');
    expect(ready.headers['retry-after']).toBe('5');
    const live = await down.app.inject({ method: 'GET', url: '/healthz' });
    expect(live.statusCode).toBe(200);
    expect(live.json()).toEqual({ status: 'ok' });
  });
});

describe('health', () => {
  it('answers /healthz and /readyz when the database answers', async () => {
    expect((await ctx.app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const ready = await ctx.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready' });
  });
});

describe('logs', () => {
  it('are JSON lines with the request id, and never carry tokens, cookies or client addresses', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    const logged = await createTestApp({}, { logger: { ...loggerOptions('info', false), stream } });
    try {
      const { token } = await createPartner(logged.app);
      const headers = { ...bearer(token), cookie: 'session=s3cr3t-cookie', 'x-request-id': 'log-test-1' };
      await logged.app.inject({ method: 'GET', url: '/v1/partners/me', headers });
      await logged.app.inject({ method: 'GET', url: '/v1/partners/merchant?page=0', headers });
      await logged.app.inject({ method: 'GET', url: '/v1/partners/me', headers: { authorization: 'Bearer mp_live_wrongwrongwrong' } });
      const text = lines.join('\n');
      expect(text).not.toContain(token);
      expect(text).not.toContain(ADMIN_TOKEN);
      expect(text).not.toContain('s3cr3t-cookie');
      expect(text).not.toContain('mp_live_wrong');
      expect(text).not.toContain('remoteAddress');
      const parsed = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      const mine = parsed.filter((line) => line.requestId === 'log-test-1');
      expect(mine.length).toBeGreaterThanOrEqual(2);
    } finally {
      await logged.app.close();
    }
  });
});

describe('while the server shuts down', () => {
  it('answers requests that still arrive 503 SERVICE_UNAVAILABLE in the envelope, with Retry-After, on both listeners', async () => {
    const answers: Record<string, { status: number; retryAfter: string | null; requestId: string | null; body: unknown }> = {};
    const ask = async (name: string, url: string) => {
      const response = await fetch(url);
      answers[name] = {
        status: response.status,
        retryAfter: response.headers.get('retry-after'),
        requestId: response.headers.get('x-request-id'),
        body: await response.json(),
      };
    };
    const urls = { public: '', admin: '' };
    // preClose runs once closing has begun and before the listener stops taking connections.
    const stopping = await createTestApp({}, {}, (app) => {
      app.addHook('preClose', () => ask('public', `${urls.public}/v1/partners/me`));
      app.admin.addHook('preClose', () => ask('admin', `${urls.admin}/v1/admin/partners`));
    });
    urls.public = await stopping.app.listen({ port: 0, host: '127.0.0.1' });
    urls.admin = await stopping.admin.listen({ port: 0, host: '127.0.0.1' });
    await stopping.app.close();
    for (const name of ['public', 'admin']) {
      const answer = answers[name];
      expect(answer?.status, name).toBe(503);
      expect(answer?.retryAfter, name).toBe('5');
      expect(answer?.body, name).toEqual({
        error: { code: 'SERVICE_UNAVAILABLE', message: 'The server is shutting down; retry shortly', requestId: answer?.requestId },
      });
    }
  });
});
