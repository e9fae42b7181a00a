import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { sql } from 'drizzle-orm';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { openPostgres } from '../src/db/client.js';
import { loggerOptions } from '../src/logger.js';
import type { App } from '../src/app.js';
import type { GenerateResponse, TagDetails } from '../src/modules/marktags/schemas.js';
import { BatchWriter, DEFAULT_BATCH_OPTIONS } from '../src/modules/collect/batch-writer.js';
import { CollectRepository, PLAIN_EVENT_FIELDS, type EventRecord } from '../src/modules/collect/repository.js';
import { loadTracker, TRACKER_FILE } from '../src/modules/collect/tracker-asset.js';
import { InProcessEventBus } from '../src/modules/events/event-bus.js';
import { bearer, createTestApp, errorOf, type TestContext } from './helpers/app.js';
import { slowWrites, withFault } from './helpers/broken-database.js';
import { queryRows, testDatabase } from './helpers/database.js';
import { createLiveTag, createMerchant, createPartner, type LiveTag } from './helpers/factories.js';

export const CHROME_UA =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const IPHONE_UA =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestApp();
});
afterAll(async () => ctx.app.close());

/** A live tag; `domain` is where its pages are. */
const liveTag = (app: App = ctx.app) => createLiveTag(app);

const event = (overrides: Record<string, unknown> = {}) => ({
  eventId: randomUUID(),
  type: 'page_view',
  url: 'https://shop.example.test/',
  timestamp: new Date().toISOString(),
  ...overrides,
});

async function collect(
  body: unknown,
  headers: Record<string, string | undefined> = {},
  app: App = ctx.app,
  contentType = 'application/json',
): Promise<LightMyRequestResponse> {
  const defined = Object.fromEntries(Object.entries({ 'user-agent': CHROME_UA, 'content-type': contentType, ...headers }).filter(([, v]) => v !== undefined));
  return app.inject({ method: 'POST', url: '/v1/collect', headers: defined as Record<string, string>, payload: typeof body === 'string' ? body : JSON.stringify(body) });
}

interface StoredEvent {
  id: string;
  event_id: string;
  type: string;
  url: string;
  referrer: string | null;
  title: string | null;
  visitor_id: string;
  session_id: string | null;
  value: string | null;
  currency: string | null;
  properties: Record<string, unknown> | null;
  device_type: string | null;
  device_browser: string | null;
  device_os: string | null;
  timestamp: Date | string;
  received_at: Date | string;
  merchant_id: string;
  partner_id: string;
}

const stored = (tagId: string) => queryRows<StoredEvent>(ctx.database, sql`select * from events where tag_id = ${tagId} order by id`);

describe('GET /mtag.js', () => {
  it('serves the built tracker as JavaScript, cacheable, with an ETag, within 3 KB gzipped', async () => {
    const response = await ctx.app.inject({ method: 'GET', url: '/mtag.js' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('application/javascript; charset=utf-8');
    expect(response.headers['cache-control']).toContain('max-age=');
    expect(response.rawPayload.equals(readFileSync(TRACKER_FILE))).toBe(true);
    expect(gzipSync(response.rawPayload).length).toBeLessThanOrEqual(3 * 1024);
    const etag = String(response.headers.etag);
    expect(etag).toMatch(/^".+"$/);
    const again = await ctx.app.inject({ method: 'GET', url: '/mtag.js', headers: { 'if-none-match': etag } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
  });
});

describe('GET /mtag.js, compressed', () => {
  const original = () => readFileSync(TRACKER_FILE);
  const get = (headers: Record<string, string>) => ctx.app.inject({ method: 'GET', url: '/mtag.js', headers });
  const decoded = (encoding: string | undefined, body: Buffer) =>
    encoding === 'br' ? brotliDecompressSync(body) : encoding === 'gzip' ? gunzipSync(body) : body;

  it('sends brotli or gzip as Accept-Encoding allows, q-values honoured, brotli preferred', async () => {
    for (const [acceptEncoding, expected] of [
      ['gzip, deflate, br, zstd', 'br'],
      ['gzip, br', 'br'],
      ['gzip', 'gzip'],
      ['br;q=0.5, gzip', 'gzip'],
      ['br;q=0, *', 'gzip'],
      ['BR', 'br'],
      ['identity', undefined],
      ['deflate', undefined],
      ['gzip;q=0, br;q=0', undefined],
    ] as const) {
      const response = await get({ 'accept-encoding': acceptEncoding });
      expect(response.statusCode, acceptEncoding).toBe(200);
      expect(response.headers['content-encoding'], acceptEncoding).toBe(expected);
      expect(String(response.headers.vary)).toContain('Accept-Encoding');
      expect(response.headers['content-type']).toBe('application/javascript; charset=utf-8');
      expect(Number(response.headers['content-length'])).toBe(response.rawPayload.length);
      expect(decoded(expected, response.rawPayload).equals(original()), acceptEncoding).toBe(true);
    }
    const plain = await get({});
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(String(plain.headers.vary)).toContain('Accept-Encoding');
    expect(plain.rawPayload.equals(original())).toBe(true);
    expect((await get({ 'accept-encoding': 'br' })).rawPayload.length).toBeLessThan(gzipSync(original(), { level: 9 }).length);
  });

  it('refuses to start on compressed forms missing or left from another build', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtag-'));
    const file = join(dir, 'mtag.js');
    writeFileSync(file, 'console.log(1)');
    writeFileSync(`${file}.gz`, gzipSync('console.log(1)'));
    expect(() => loadTracker(file)).toThrow('not built');
    writeFileSync(`${file}.br`, brotliCompressSync('console.log(2)'));
    expect(() => loadTracker(file)).toThrow('stale');
    writeFileSync(`${file}.br`, brotliCompressSync('console.log(1)'));
    expect(loadTracker(file).br.body.length).toBeGreaterThan(0);
  });

  it('gives each encoding its own ETag, and answers 304 to the matching one only', async () => {
    const tags = await Promise.all(['br', 'gzip', 'identity'].map(async (encoding) => String((await get({ 'accept-encoding': encoding })).headers.etag)));
    expect(new Set(tags).size).toBe(3);
    const [brTag, gzipTag] = tags as [string, string, string];
    const notModified = await get({ 'accept-encoding': 'br', 'if-none-match': brTag });
    expect(notModified.statusCode).toBe(304);
    expect(notModified.headers.etag).toBe(brTag);
    expect(String(notModified.headers.vary)).toContain('Accept-Encoding');
    expect(notModified.body).toBe('');
    const otherEncoding = await get({ 'accept-encoding': 'gzip', 'if-none-match': brTag });
    expect(otherEncoding.statusCode).toBe(200);
    expect(otherEncoding.headers.etag).toBe(gzipTag);
    expect(gunzipSync(otherEncoding.rawPayload).equals(original())).toBe(true);
  });
});

describe('POST /v1/collect', () => {
  it('stores the events, answers 202 after the commit, and issues the visitor cookie', async () => {
    const tag = await liveTag();
    const purchase = event({
      type: 'purchase',
      value: 49.9,
      currency: 'EUR',
      title: 'Checkout',
      referrer: `https://${tag.domain}/cart`,
      url: `https://${tag.domain}/checkout?step=2`,
      properties: { orderId: 'A-1', items: [{ sku: 'x', qty: 2 }] },
    });
    const response = await collect(
      { tagId: tag.tagId, sessionId: 'sess_1', events: [event({ url: `https://${tag.domain}/` }), purchase] },
      { origin: `https://${tag.domain}`, cookie: 'session=merchant-secret; theme=dark', 'x-forwarded-for': '203.0.113.9' },
    );
    expect(response.statusCode).toBe(202);
    expect(response.json()).toEqual({ accepted: 2, duplicates: 0 });

    const cookie = String(response.headers['set-cookie']);
    const visitor = /^mtag_vid=([0-9a-f-]{36}); Max-Age=31536000; Path=\/; HttpOnly; SameSite=Lax$/.exec(cookie)?.[1];
    expect(visitor, cookie).toBeDefined();

    const rows = await stored(tag.tagId);
    expect(rows).toHaveLength(2);
    expect(rows[1]).toMatchObject({
      event_id: purchase.eventId,
      type: 'purchase',
      // Only the attribution parameters (and the merchant's own) of a query string are stored.
      url: `https://${tag.domain}/checkout`,
      referrer: `https://${tag.domain}/cart`,
      title: 'Checkout',
      visitor_id: visitor,
      session_id: 'sess_1',
      currency: 'EUR',
      properties: { orderId: 'A-1', items: [{ sku: 'x', qty: 2 }] },
      device_type: 'desktop',
      device_browser: 'Chrome',
      device_os: 'Windows',
      merchant_id: tag.merchantId,
      partner_id: tag.partnerId,
    });
    expect(Number(rows[1]?.value)).toBe(49.9);
    expect(BigInt(rows[1]?.id ?? 0)).toBeGreaterThan(BigInt(rows[0]?.id ?? 0));
    // Nothing of the merchant's cookies or the client's address is kept.
    const everything = JSON.stringify(await queryRows(ctx.database, sql`select * from events where tag_id = ${tag.tagId}`));
    expect(everything).not.toContain('merchant-secret');
    expect(everything).not.toContain('203.0.113.9');
  });

  it('accepts the text/plain JSON that sendBeacon sends', async () => {
    const tag = await liveTag();
    const response = await collect({ tagId: tag.tagId, events: [event()] }, {}, ctx.app, 'text/plain;charset=UTF-8');
    expect(response.statusCode).toBe(202);
    expect(response.json()).toEqual({ accepted: 1, duplicates: 0 });
  });

  it('stores a replay nothing twice, within a request and across requests', async () => {
    const tag = await liveTag();
    const a = event();
    const b = event({ type: 'lead' });
    const body = { tagId: tag.tagId, visitorId: 'v1', events: [a, b, a] };
    expect((await collect(body)).json()).toEqual({ accepted: 3, duplicates: 1 });
    expect((await collect(body)).json()).toEqual({ accepted: 3, duplicates: 3 });
    const answers = await Promise.all(Array.from({ length: 10 }, () => collect({ tagId: tag.tagId, visitorId: 'v1', events: [b] })));
    expect(answers.every((r) => r.statusCode === 202)).toBe(true);
    expect((await stored(tag.tagId)).map((r) => r.event_id).sort()).toEqual([a.eventId, b.eventId].sort());
  });

  it('generates an event id when the sender gives none', async () => {
    const tag = await liveTag();
    const { eventId: _omitted, ...anonymous } = event();
    expect((await collect({ tagId: tag.tagId, events: [anonymous, anonymous] })).json()).toEqual({ accepted: 2, duplicates: 0 });
    expect(new Set((await stored(tag.tagId)).map((r) => r.event_id)).size).toBe(2);
  });

  it('uses the visitor of the body, else of the cookie, and issues a cookie only when there is neither', async () => {
    const tag = await liveTag();
    const fromBody = await collect({ tagId: tag.tagId, visitorId: 'body-visitor', events: [event()] }, { cookie: 'mtag_vid=cookie-visitor' });
    expect(fromBody.headers['set-cookie']).toBeUndefined();
    const fromCookie = await collect({ tagId: tag.tagId, events: [event()] }, { cookie: 'other=1; mtag_vid=cookie-visitor' });
    expect(fromCookie.headers['set-cookie']).toBeUndefined();
    expect((await stored(tag.tagId)).map((r) => r.visitor_id)).toEqual(['body-visitor', 'cookie-visitor']);
  });

  it('marks the cookie Secure over HTTPS (behind a trusted proxy)', async () => {
    const proxied = await createTestApp({ MARKTAG_TRUST_PROXY: 'true' });
    try {
      const tag = await liveTag(proxied.app);
      const response = await collect({ tagId: tag.tagId, events: [event()] }, { 'x-forwarded-proto': 'https' }, proxied.app);
      expect(String(response.headers['set-cookie'])).toMatch(/; HttpOnly; SameSite=Lax; Secure$/);
    } finally {
      await proxied.app.close();
    }
  });

  it('parses the device from the user agent', async () => {
    const tag = await liveTag();
    await collect({ tagId: tag.tagId, events: [event()] }, { 'user-agent': IPHONE_UA });
    expect((await stored(tag.tagId))[0]).toMatchObject({ device_type: 'mobile', device_browser: 'Safari', device_os: 'iOS' });
  });

  it('keeps the client time unless it is more than 5 minutes ahead', async () => {
    const tag = await liveTag();
    const past = new Date(Date.now() - 3_600_000).toISOString();
    const slightlyAhead = new Date(Date.now() + 60_000).toISOString();
    const farAhead = new Date(Date.now() + 3_600_000).toISOString();
    await collect({ tagId: tag.tagId, events: [event({ timestamp: past }), event({ timestamp: slightlyAhead }), event({ timestamp: farAhead })] });
    const rows = await stored(tag.tagId);
    const time = (value: Date | string | number) => new Date(value).getTime();
    expect(time(rows[0]?.timestamp ?? 0)).toBe(Date.parse(past));
    expect(time(rows[1]?.timestamp ?? 0)).toBe(Date.parse(slightlyAhead));
    expect(time(rows[2]?.timestamp ?? 0)).toBe(time(rows[2]?.received_at ?? 0));
  });

  it('ignores bots (a missing user agent counts as one): 202, accepted 0, a header saying why, nothing stored', async () => {
    const tag = await liveTag();
    for (const ua of [undefined, 'Googlebot/2.1 (+http://www.google.com/bot.html)', 'curl/8.5.0', 'HeadlessChrome/131.0.0.0']) {
      const response = await collect({ tagId: tag.tagId, events: [event()] }, { 'user-agent': ua });
      expect(response.statusCode).toBe(202);
      expect(response.json()).toEqual({ accepted: 0, duplicates: 0 });
      expect(response.headers['x-marktag-ignored']).toBe('bot');
    }
    expect(await stored(tag.tagId)).toEqual([]);
  });

  it('answers 404 TAG_NOT_FOUND for an unknown tag and 403 TAG_NOT_VERIFIED for an unverified one', async () => {
    const unknown = await collect({ tagId: randomUUID(), events: [event()] });
    expect(unknown.statusCode).toBe(404);
    expect(errorOf(unknown).code).toBe('TAG_NOT_FOUND');

    const partner = await createPartner(ctx.app);
    const merchantId = await createMerchant(ctx.app, partner.token);
    const custom = await ctx.app.inject({
      method: 'POST',
      url: '/v1/partners/marktag/generate',
      headers: bearer(partner.token),
      payload: { merchantId, domain: `c${randomUUID().slice(0, 8)}.test` },
    });
    const tagId = custom.json<GenerateResponse>().tagId;
    const refused = await collect({ tagId, events: [event()] });
    expect(refused.statusCode).toBe(403);
    expect(errorOf(refused).code).toBe('TAG_NOT_VERIFIED');
    expect((await stored(tagId)).length).toBe(0);
  });

  it('accepts pages on the tag’s domain and its subdomains only', async () => {
    const tag = await liveTag();
    for (const origin of [`https://${tag.domain}`, `http://www.${tag.domain}:8080`, undefined]) {
      expect((await collect({ tagId: tag.tagId, events: [event()] }, { origin })).statusCode, String(origin)).toBe(202);
    }
    for (const origin of [`https://not${tag.domain}`, `https://${tag.domain}.evil.test`, 'https://evil.test', 'null']) {
      const response = await collect({ tagId: tag.tagId, events: [event()] }, { origin });
      expect(response.statusCode, origin).toBe(403);
      expect(errorOf(response).code).toBe('ORIGIN_NOT_ALLOWED');
      expect(response.headers['access-control-allow-origin']).toBeUndefined();
    }
    expect(await stored(tag.tagId)).toHaveLength(3);
  });

  it.each<[string, (tagId: string) => unknown, string]>([
    ['no events', (tagId) => ({ tagId, events: [] }), 'events'],
    ['101 events', (tagId) => ({ tagId, events: Array.from({ length: 101 }, () => event()) }), 'events'],
    ['a bad tag id', () => ({ tagId: 'nope', events: [event()] }), 'tagId'],
    ['an unknown field', (tagId) => ({ tagId, events: [event()], ip: '1.2.3.4' }), 'ip'],
    ['an event type with capitals', (tagId) => ({ tagId, events: [event({ type: 'Purchase' })] }), 'events.0.type'],
    ['an event type with a dash', (tagId) => ({ tagId, events: [event({ type: 'add-to-cart' })] }), 'events.0.type'],
    ['a lower-case currency', (tagId) => ({ tagId, events: [event({ currency: 'usd' })] }), 'events.0.currency'],
    ['a negative value', (tagId) => ({ tagId, events: [event({ value: -1 })] }), 'events.0.value'],
    ['a value as a string', (tagId) => ({ tagId, events: [event({ value: '10' })] }), 'events.0.value'],
    ['an over-long url', (tagId) => ({ tagId, events: [event({ url: `https://x.test/${'a'.repeat(2048)}` })] }), 'events.0.url'],
    ['a missing url', (tagId) => ({ tagId, events: [{ type: 'page_view' }] }), 'events.0.url'],
    ['a bad timestamp', (tagId) => ({ tagId, events: [event({ timestamp: 'yesterday' })] }), 'events.0.timestamp'],
    ['51 properties', (tagId) => ({ tagId, events: [event({ properties: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i])) })] }), 'events.0.properties'],
    ['over 4 KiB of properties', (tagId) => ({ tagId, events: [event({ properties: { blob: 'x'.repeat(4100) } })] }), 'events.0.properties'],
    ['a NUL character', (tagId) => ({ tagId, events: [event({ title: 'a\u0000b' })] }), 'events.0.title'],
    ['a NUL character in a property', (tagId) => ({ tagId, events: [event({ properties: { a: ['ok', 'b\u0000'] } })] }), 'events.0.properties'],
    ['a bad visitor id', (tagId) => ({ tagId, visitorId: 'has space', events: [event()] }), 'visitorId'],
  ])('refuses %s with 400 VALIDATION_ERROR naming the field', async (_label, body, field) => {
    const tag = await liveTag();
    const response = await collect(body(tag.tagId));
    expect(response.statusCode).toBe(400);
    const error = errorOf(response);
    expect(error.code).toBe('VALIDATION_ERROR');
    expect(error.details?.[0]?.field).toBe(field);
    expect(await stored(tag.tagId)).toEqual([]);
  });

  it('refuses malformed JSON (400), other content types (415) and bodies over 64 KiB (413)', async () => {
    const tag = await liveTag();
    const malformed = await collect('{"tagId":', {}, ctx.app, 'text/plain');
    expect(malformed.statusCode).toBe(400);
    expect(errorOf(malformed)).toMatchObject({ code: 'VALIDATION_ERROR', message: 'Request body is not valid JSON' });
    const xml = await collect({ tagId: tag.tagId, events: [event()] }, {}, ctx.app, 'application/xml');
    expect(xml.statusCode).toBe(415);
    expect(errorOf(xml)).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Unsupported Content-Type "application/xml": send application/json or text/plain' });
    const huge = await collect({ tagId: tag.tagId, events: [event({ title: 'x'.repeat(70 * 1024) })] }, {}, ctx.app, 'text/plain');
    expect(huge.statusCode).toBe(413);
    expect(errorOf(huge).code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('keeps lone surrogates from reaching the database', async () => {
    const tag = await liveTag();
    const response = await collect(`{"tagId":"${tag.tagId}","events":[{"type":"page_view","url":"https://x.test/\\ud800","properties":{"k":"\\udc00"}}]}`);
    expect(response.statusCode).toBe(202);
    expect((await stored(tag.tagId))[0]).toMatchObject({ url: 'https://x.test/\ufffd', properties: { k: '\ufffd' } });
  });
});

describe('logs', () => {
  it('never carry client addresses or the site’s cookies', async () => {
    const lines: string[] = [];
    const stream = new Writable({ write: (chunk: Buffer, _encoding, done) => done(void lines.push(chunk.toString())) });
    // A failing write: the collector logs the most it ever does.
    const logged = await createTestApp(
      {},
      { logger: { ...loggerOptions('debug', false), stream }, database: withFault(await testDatabase(), { kind: 'batch-write-fails' }) },
    );
    try {
      const tag = await liveTag();
      const headers = { cookie: 'session=merchant-secret; mtag_vid=v-123', 'x-forwarded-for': '203.0.113.9', origin: `https://${tag.domain}` };
      expect((await collect({ tagId: tag.tagId, events: [event()] }, headers, logged.app)).statusCode).toBe(503);
      expect((await collect({ tagId: randomUUID(), events: [event()] }, headers, logged.app)).statusCode).toBe(404);
      const text = lines.join('');
      expect(text).toContain('event batch write failed');
      for (const secret of ['merchant-secret', '203.0.113.9', '127.0.0.1', 'remoteAddress']) expect(text).not.toContain(secret);
    } finally {
      await logged.app.close();
    }
  });
});

describe('tag lifecycle', () => {
  it('moves a verified tag from waiting_for_events to active on its first event, and keeps lastEventAt', async () => {
    // A tag the collector has not looked up yet, so its cache reads the state set here.
    const fresh = await liveTag();
    await ctx.database.db.execute(sql`update marktags set status = 'waiting_for_events', last_event_at = null where id = ${fresh.tagId}`);
    expect((await collect({ tagId: fresh.tagId, events: [event()] })).statusCode).toBe(202);
    const details = await ctx.app.inject({ method: 'GET', url: `/v1/partners/marktag/${fresh.tagId}`, headers: bearer(fresh.token) });
    expect(details.json()).toMatchObject({ status: 'active' });
    expect(details.json<{ lastEventAt: string | null }>().lastEventAt).not.toBeNull();
  });
});

describe('CORS', () => {
  it('answers the preflight and echoes the page’s origin on the collector only', async () => {
    const tag = await liveTag();
    const origin = `https://${tag.domain}`;
    const preflight = await ctx.app.inject({
      method: 'OPTIONS',
      url: '/v1/collect',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers).toMatchObject({
      'access-control-allow-origin': origin,
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'POST, OPTIONS',
    });
    expect(String(preflight.headers.vary)).toContain('Origin');

    const post = await collect({ tagId: tag.tagId, events: [event()] }, { origin });
    expect(post.headers['access-control-allow-origin']).toBe(origin);
    expect(post.headers['access-control-allow-credentials']).toBe('true');
    // The tracker honours Retry-After on a 429 or 503: it must be able to read it.
    expect(post.headers['access-control-expose-headers']).toBe('Retry-After');
    expect(String(post.headers.vary)).toContain('Origin');

    for (const url of ['/v1/partners/me', '/v1/admin/partners', '/healthz']) {
      const api = await ctx.app.inject({ method: 'GET', url, headers: { origin, ...bearer(tag.token) } });
      expect(api.headers['access-control-allow-origin'], url).toBeUndefined();
    }
    const apiPreflight = await ctx.app.inject({ method: 'OPTIONS', url: '/v1/partners/merchant', headers: { origin, 'access-control-request-method': 'POST' } });
    expect(apiPreflight.headers['access-control-allow-origin']).toBeUndefined();
  });
});

describe('durability', () => {
  it('groups concurrent requests into few commits', async () => {
    const tag = await liveTag();
    const before = { ...ctx.app.services.events.stats };
    const answers = await Promise.all(Array.from({ length: 50 }, () => collect({ tagId: tag.tagId, events: [event()] })));
    expect(answers.every((r) => r.statusCode === 202)).toBe(true);
    const flushes = ctx.app.services.events.stats.flushes - before.flushes;
    expect(flushes).toBeGreaterThan(0);
    expect(flushes).toBeLessThan(50);
    expect(await stored(tag.tagId)).toHaveLength(50);
  });

  it('answers 503 with Retry-After, and never 202, when the write fails', async () => {
    const tag = await liveTag();
    const failing = await createTestApp({}, { database: withFault(await testDatabase(), { kind: 'batch-write-fails' }) });
    try {
      const answers = await Promise.all(Array.from({ length: 5 }, () => collect({ tagId: tag.tagId, events: [event()] }, {}, failing.app)));
      for (const response of answers) {
        expect(response.statusCode).toBe(503);
        expect(errorOf(response).code).toBe('SERVICE_UNAVAILABLE');
        expect(response.headers['retry-after']).toBe('2');
      }
      expect(await stored(tag.tagId)).toEqual([]);
    } finally {
      await failing.app.close();
    }
  });

  it('answers 503 at once when the queue is full', async () => {
    const small = await createTestApp({}, { batch: { maxQueued: 5 } });
    try {
      const tag = await liveTag(small.app);
      const response = await collect({ tagId: tag.tagId, events: Array.from({ length: 6 }, () => event()) }, {}, small.app);
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBeDefined();
      expect((await collect({ tagId: tag.tagId, events: [event()] }, {}, small.app)).statusCode).toBe(202);
    } finally {
      await small.app.close();
    }
  });

  it('bounds the queue by bytes too: a few large events fill it as their size, not their count', async () => {
    // Room for about 16 KiB of requests, and 50,000 events; the database holds each write 300 ms so requests queue up.
    const small = await createTestApp({}, { database: slowWrites(await testDatabase(), 300), batch: { maxQueuedBytes: 16 * 1024 } });
    try {
      const tag = await liveTag(small.app);
      const large = () => ({ tagId: tag.tagId, events: [event({ properties: { blob: 'x'.repeat(4000) } }), event({ properties: { blob: 'y'.repeat(4000) } })] });
      expect(JSON.stringify(large()).length).toBeGreaterThan(8 * 1024);
      const first = collect(large(), {}, small.app);
      const writer = small.app.services.events;
      while (writer.backlog === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      const refused = await collect(large(), {}, small.app);
      expect(refused.statusCode).toBe(503);
      expect(errorOf(refused).code).toBe('SERVICE_UNAVAILABLE');
      expect(refused.headers['retry-after']).toBeDefined();
      expect((await first).statusCode).toBe(202);
      // Written, its bytes are released.
      expect((await collect(large(), {}, small.app)).statusCode).toBe(202);
      expect(await stored(tag.tagId)).toHaveLength(4);
    } finally {
      await small.app.close();
    }
  });

  it('answers 503 and never 202 when the database is stopped', async () => {
    const down = await createTestApp({}, { database: openPostgres('postgres://marktag@127.0.0.1:9/none', { connectionTimeoutMillis: 500 }) });
    try {
      const response = await collect({ tagId: randomUUID(), events: [event()] }, {}, down.app);
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBeDefined();
    } finally {
      await down.app.close();
      await down.database.close();
    }
  });

  it('commits what is queued before the app closes, in flight or waiting for a slot', async () => {
    // One flush at a time, held 200 ms: the second request waits in the queue when close begins.
    const closing = await createTestApp({}, { database: slowWrites(await testDatabase(), 200), batch: { maxInFlight: 1 } });
    const tag = await liveTag(closing.app);
    const writer = closing.app.services.events;
    const inFlight = collect({ tagId: tag.tagId, events: [event(), event()] }, {}, closing.app);
    while (writer.backlog < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    const waiting = collect({ tagId: tag.tagId, events: [event()] }, {}, closing.app);
    while (writer.backlog < 3) await new Promise((resolve) => setTimeout(resolve, 5));
    await closing.app.close();
    expect(writer.backlog).toBe(0);
    expect((await inFlight).statusCode).toBe(202);
    expect((await waiting).statusCode).toBe(202);
    expect(await stored(tag.tagId)).toHaveLength(3);
  });
});

describe('natural batching', () => {
  /** A batch writer on the test database whose inserts wait until the test releases them, one by one. */
  function heldWriter(maxInFlight: number, minParallelBatch = 1) {
    const flushes: { events: number; release: () => void }[] = [];
    const database = withFault(ctx.database, {
      kind: 'batch-write-held',
      hold: (events) => new Promise<void>((release) => flushes.push({ events, release })),
    });
    const writer = new BatchWriter(new CollectRepository(database.db, database.run), ctx.app.log, new InProcessEventBus(), {
      ...DEFAULT_BATCH_OPTIONS,
      maxInFlight,
      minParallelBatch,
    });
    return { writer, flushes, sizes: () => flushes.map((flush) => flush.events) };
  }
  const row = (tag: LiveTag): EventRecord => ({
    eventId: randomUUID(),
    tagId: tag.tagId,
    merchantId: tag.merchantId,
    partnerId: tag.partnerId,
    type: 'page_view',
    timestamp: new Date(),
    receivedAt: new Date(),
    url: 'https://shop.example.test/',
    referrer: null,
    title: null,
    visitorId: 'v1',
    sessionId: null,
    value: null,
    currency: null,
    properties: null,
    deviceType: null,
    deviceBrowser: null,
    deviceOs: null,
    ...PLAIN_EVENT_FIELDS,
  });
  /** The end of the current I/O turn: setImmediate callbacks queued before this one have run. */
  const endOfTurn = () => new Promise((resolve) => setImmediate(resolve));

  it('flushes a lone write at once, with no timer, and the writes of one turn together', async () => {
    const tag = await liveTag();
    const { writer, flushes, sizes } = heldWriter(4);
    const lone = writer.write([row(tag)]);
    await endOfTurn();
    expect(sizes()).toEqual([1]);
    const together = [writer.write([row(tag)]), writer.write([row(tag), row(tag)])];
    await endOfTurn();
    expect(sizes()).toEqual([1, 3]);
    for (const flush of flushes) flush.release();
    expect(await lone).toEqual({ accepted: 1, duplicates: 0 });
    expect(await Promise.all(together)).toEqual([{ accepted: 1, duplicates: 0 }, { accepted: 2, duplicates: 0 }]);
    await writer.close();
    expect(await stored(tag.tagId)).toHaveLength(4);
  });

  it('gathers writes arriving while maxInFlight flushes commit, and sends them all in one flush as soon as one commits', async () => {
    const tag = await liveTag();
    const { writer, flushes, sizes } = heldWriter(2);
    const first = writer.write([row(tag)]);
    await endOfTurn();
    const second = writer.write([row(tag)]);
    await endOfTurn();
    // Two flushes in flight: the cap. What arrives now waits, however many turns go by.
    expect(sizes()).toEqual([1, 1]);
    const waiting: Promise<unknown>[] = [];
    for (let i = 0; i < 5; i++) {
      const duplicate = row(tag);
      waiting.push(writer.write([row(tag), duplicate, { ...duplicate }]));
      await endOfTurn();
    }
    expect(sizes()).toEqual([1, 1]);
    expect(writer.backlog).toBe(17);
    flushes[0]?.release();
    await first;
    await endOfTurn();
    // All fifteen events that gathered go in one flush: ten rows once the batch is deduplicated.
    expect(sizes()).toEqual([1, 1, 10]);
    flushes[1]?.release();
    flushes[2]?.release();
    await second;
    expect(await Promise.all(waiting)).toEqual(Array.from({ length: 5 }, () => ({ accepted: 3, duplicates: 1 })));
    expect(writer.stats.flushes).toBe(3);
    await writer.close();
    expect(await stored(tag.tagId)).toHaveLength(12);
  });

  it('starts a flush beside one in flight only once minParallelBatch events wait for it', async () => {
    const tag = await liveTag();
    const { writer, flushes, sizes } = heldWriter(2, 6);
    const first = writer.write([row(tag)]);
    await endOfTurn();
    // One in flight: small writes wait for its commit rather than pay a statement of their own.
    const small = [writer.write([row(tag)]), writer.write([row(tag), row(tag)])];
    await endOfTurn();
    expect(sizes()).toEqual([1]);
    // Six waiting: worth a second statement now.
    const large = writer.write([row(tag), row(tag), row(tag)]);
    await endOfTurn();
    expect(sizes()).toEqual([1, 6]);
    // Both slots busy: what comes now waits for a commit, whatever its size.
    const later = writer.write(Array.from({ length: 8 }, () => row(tag)));
    await endOfTurn();
    expect(sizes()).toEqual([1, 6]);
    flushes[0]?.release();
    await first;
    await endOfTurn();
    expect(sizes()).toEqual([1, 6, 8]);
    flushes[1]?.release();
    flushes[2]?.release();
    expect(await Promise.all([...small, large, later])).toEqual([
      { accepted: 1, duplicates: 0 },
      { accepted: 2, duplicates: 0 },
      { accepted: 3, duplicates: 0 },
      { accepted: 8, duplicates: 0 },
    ]);
    await writer.close();
    expect(await stored(tag.tagId)).toHaveLength(15);
  });
});

describe('ignored (bot) events', () => {
  const details = async (tagId: string, token: string) => ctx.app.inject({ method: 'GET', url: `/v1/partners/marktag/${tagId}`, headers: bearer(token) });
  const diagnostics = async (tagId: string, token: string) => (await details(tagId, token)).json<TagDetails>().diagnostics;

  it('counts them per tag in memory and shows them in the tag details after a flush; other tags and partners see nothing', async () => {
    const tag = await liveTag();
    const other = await liveTag();
    expect(await diagnostics(tag.tagId, tag.token)).toEqual({ ignoredEvents: { bot: 0 }, lastIgnoredAt: null });
    const before = Date.now();
    for (const [ua, events] of [[undefined, 1], ['curl/8.5.0', 2], ['HeadlessChrome/131.0.0.0', 3]] as const) {
      const response = await collect({ tagId: tag.tagId, events: Array.from({ length: events }, () => event()) }, { 'user-agent': ua });
      expect(response.headers['x-marktag-ignored']).toBe('bot');
    }
    expect((await collect({ tagId: tag.tagId, events: [event()] })).json()).toEqual({ accepted: 1, duplicates: 0 });
    // Nothing is written per bot request: the counts wait in memory for the next flush.
    expect((await diagnostics(tag.tagId, tag.token)).ignoredEvents.bot).toBe(0);

    await ctx.app.services.ignored.flush();
    const counted = await diagnostics(tag.tagId, tag.token);
    expect(counted.ignoredEvents).toEqual({ bot: 6 });
    expect(Date.parse(counted.lastIgnoredAt ?? '')).toBeGreaterThanOrEqual(before - 1000);
    expect(await diagnostics(other.tagId, other.token)).toEqual({ ignoredEvents: { bot: 0 }, lastIgnoredAt: null });
    // Another partner's tag stays 404, diagnostics or not.
    const foreign = await details(tag.tagId, other.token);
    expect(foreign.statusCode).toBe(404);
    expect(errorOf(foreign).code).toBe('TAG_NOT_FOUND');

    // Later flushes add to the count.
    await collect({ tagId: tag.tagId, events: [event()] }, { 'user-agent': undefined });
    await ctx.app.services.ignored.flush();
    expect((await diagnostics(tag.tagId, tag.token)).ignoredEvents).toEqual({ bot: 7 });
  });

  it('keeps the counts of a failed flush for the next one', async () => {
    const flaky = await createTestApp({}, { database: withFault(await testDatabase(), { kind: 'batch-write-fails', times: 1 }) });
    try {
      const tag = await liveTag();
      await collect({ tagId: tag.tagId, events: [event(), event(), event()] }, { 'user-agent': 'curl/8.5.0' }, flaky.app);
      await flaky.app.services.ignored.flush();
      expect((await diagnostics(tag.tagId, tag.token)).ignoredEvents).toEqual({ bot: 0 });
      await collect({ tagId: tag.tagId, events: [event()] }, { 'user-agent': 'curl/8.5.0' }, flaky.app);
      await flaky.app.services.ignored.flush();
      expect((await diagnostics(tag.tagId, tag.token)).ignoredEvents).toEqual({ bot: 4 });
    } finally {
      await flaky.app.close();
    }
  });

  it('flushes by itself every few seconds, and at close', async () => {
    const timed = await createTestApp({}, { database: ctx.database, ignored: { flushIntervalMs: 100 } });
    const closing = await createTestApp({}, { database: ctx.database });
    try {
      const tag = await liveTag();
      await collect({ tagId: tag.tagId, events: [event(), event()] }, { 'user-agent': 'curl/8.5.0' }, timed.app);
      const deadline = Date.now() + 5000;
      while ((await diagnostics(tag.tagId, tag.token)).ignoredEvents.bot === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect((await diagnostics(tag.tagId, tag.token)).ignoredEvents).toEqual({ bot: 2 });

      await collect({ tagId: tag.tagId, events: [event()] }, { 'user-agent': 'curl/8.5.0' }, closing.app);
      await closing.app.close();
      expect((await diagnostics(tag.tagId, tag.token)).ignoredEvents).toEqual({ bot: 3 });
    } finally {
      await timed.app.close();
      await closing.app.close();
    }
  });
});
