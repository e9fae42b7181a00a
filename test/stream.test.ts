import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import type { ApiEvent } from '../src/modules/events/schemas.js';
import { ADMIN_TOKEN, bearer, createTestApp, errorOf, type TestContext } from './helpers/app.js';
import { engine } from './helpers/database.js';
import { createLiveTag } from './helpers/factories.js';
import { finished, listeningUrl, spawnCli } from './helpers/process.js';
import { SseClient } from './helpers/sse.js';

const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

let ctx: TestContext;
let url: string;
const clients: SseClient[] = [];

beforeAll(async () => {
  ctx = await createTestApp({}, { stream: { heartbeatMs: 200 } });
  url = await ctx.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  for (const client of clients) client.close();
  await ctx.app.close();
});

/** A partner with a merchant and a live (preverified) tag. */
const live = (app: App = ctx.app) => createLiveTag(app);

async function collect(tagId: string, types: string[], app: App = ctx.app): Promise<void> {
  const response = await app.inject({
    method: 'POST',
    url: '/v1/collect',
    headers: { 'user-agent': UA, 'content-type': 'application/json' },
    payload: { tagId, visitorId: 'v', events: types.map((type) => ({ type, url: 'https://shop.test/' })) },
  });
  expect(response.statusCode).toBe(202);
}

async function open(token: string, query = '', headers: Record<string, string> = {}, base = url): Promise<SseClient> {
  const client = await SseClient.open(`${base}/v1/partners/events/stream${query}`, { ...bearer(token), ...headers });
  clients.push(client);
  return client;
}

const parsed = (client: SseClient) => client.events.map((message) => JSON.parse(message.data ?? '{}') as ApiEvent);

describe('GET /v1/partners/events/stream', () => {
  it('streams each new event as id / event / data, matching the filters, with heartbeats', async () => {
    const w = await live();
    const stream = await open(w.token, `?merchantId=${w.merchantId}&type=purchase,lead`);
    expect(stream.response.status).toBe(200);
    expect(stream.response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    await stream.until(() => stream.messages.some((m) => m.comment === 'connected'));

    await collect(w.tagId, ['page_view', 'purchase', 'lead', 'page_view']);
    const messages = await stream.waitForEvents(2);
    expect(messages.map((m) => m.event)).toEqual(['event', 'event']);
    const events = parsed(stream);
    expect(events.map((e) => e.type)).toEqual(['purchase', 'lead']);
    expect(messages.map((m) => m.id)).toEqual(events.map((e) => e.id));
    expect(events[0]).toMatchObject({ tagId: w.tagId, merchantId: w.merchantId, visitorId: 'v', device: { browser: 'Chrome' } });
    expect(await stream.until(() => stream.messages.some((m) => m.comment === 'heartbeat'), 2000)).toBe(true);
  });

  it('never carries another partner’s events', async () => {
    const mine = await live();
    const theirs = await live();
    const stream = await open(mine.token);
    await stream.until(() => stream.messages.length > 0);
    await collect(theirs.tagId, ['purchase']);
    await collect(mine.tagId, ['lead']);
    await stream.waitForEvents(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(parsed(stream).map((e) => e.tagId)).toEqual([mine.tagId]);
  });

  it('replays every event after Last-Event-ID from the database, then continues live, without doubles', async () => {
    const w = await live();
    await collect(w.tagId, ['a1', 'a2', 'a3', 'a4', 'a5']);
    const first = await open(w.token, `?tagId=${w.tagId}&lastEventId=0`);
    const replayed = await first.waitForEvents(5);
    first.close();
    const second = replayed[1]?.id ?? '';

    const resumed = await open(w.token, `?tagId=${w.tagId}`, { 'last-event-id': second });
    await resumed.waitForEvents(3);
    await collect(w.tagId, ['b1', 'b2']);
    await resumed.waitForEvents(5);
    expect(parsed(resumed).map((e) => e.type)).toEqual(['a3', 'a4', 'a5', 'b1', 'b2']);
  });

  it('misses nothing and repeats nothing across disconnects while events keep arriving', async () => {
    const w = await live();
    let stop = false;
    let sent = 0;
    const producer = (async () => {
      while (!stop) {
        await collect(w.tagId, ['x', 'y']);
        sent += 2;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    const received: string[] = [];
    let lastId: string | undefined;
    for (let round = 0; round < 4; round++) {
      const stream = await open(w.token, `?tagId=${w.tagId}`, lastId ? { 'last-event-id': lastId } : { 'last-event-id': '0' });
      await stream.waitForEvents(received.length === 0 ? 10 : 5);
      stream.close();
      await stream.until(() => stream.ended, 2000);
      received.push(...stream.events.map((m) => m.id ?? ''));
      lastId = received.at(-1);
    }
    stop = true;
    await producer;
    const tail = await open(w.token, `?tagId=${w.tagId}`, { 'last-event-id': lastId ?? '0' });
    await tail.until(() => received.length + tail.events.length >= sent, 10_000);
    received.push(...tail.events.map((m) => m.id ?? ''));
    expect(received).toHaveLength(sent);
    expect(new Set(received).size).toBe(sent);
    const numeric = received.map(BigInt);
    expect(numeric.every((id, i) => i === 0 || id > (numeric[i - 1] ?? 0n))).toBe(true);
  });

  it('answers 400 for bad parameters and 404 for another partner’s merchant or tag', async () => {
    const mine = await live();
    const theirs = await live();
    for (const [query, headers, status, code] of [
      ['?type=Bad', {}, 400, 'VALIDATION_ERROR'],
      ['', { 'last-event-id': 'abc' }, 400, 'VALIDATION_ERROR'],
      [`?merchantId=${theirs.merchantId}`, {}, 404, 'MERCHANT_NOT_FOUND'],
      [`?tagId=${theirs.tagId}`, {}, 404, 'TAG_NOT_FOUND'],
    ] as const) {
      const response = await ctx.app.inject({ method: 'GET', url: `/v1/partners/events/stream${query}`, headers: { ...bearer(mine.token), ...headers } });
      expect(response.statusCode).toBe(status);
      expect(errorOf(response).code).toBe(code);
    }
  });

  it('allows 20 open streams per partner, then answers 429', async () => {
    const w = await live();
    const streams = await Promise.all(Array.from({ length: 20 }, () => open(w.token)));
    expect(streams.every((s) => s.response.status === 200)).toBe(true);
    const refused = await fetch(`${url}/v1/partners/events/stream`, { headers: bearer(w.token) });
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('RATE_LIMITED');
    expect(refused.headers.get('retry-after')).toBe('5');
    // Another partner is not affected; a closed stream frees its place.
    const other = await live();
    expect((await open(other.token)).response.status).toBe(200);
    streams[0]?.close();
    await streams[0]?.until(() => false, 300);
    expect((await open(w.token)).response.status).toBe(200);
  });

  it('cuts off a consumer that stops reading, instead of buffering without end', { timeout: 60_000 }, async () => {
    const small = await createTestApp({}, { stream: { maxBufferedBytes: 64 * 1024 } });
    const smallUrl = await small.app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const w = await live(small.app);
      const { hostname, port } = new URL(smallUrl);
      await new Promise<void>((resolve) => {
        const req = httpRequest({ hostname, port, path: '/v1/partners/events/stream', headers: bearer(w.token) }, (res) => {
          res.pause(); // never reads
          resolve();
        });
        req.on('error', () => undefined);
        req.end();
      });
      const streams = small.app.services.streams;
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(streams.openStreams(w.partnerId)).toBe(1);
      const closed = () => streams.openStreams(w.partnerId) === 0;
      // About 6 KB an event: the kernel's socket buffers (a few MB on loopback) fill first, then the server's.
      const bulky = { type: 'page_view', url: `https://shop.test/${'u'.repeat(1900)}`, title: 't'.repeat(1000), properties: { blob: 'p'.repeat(3000) } };
      for (let round = 0; round < 600 && !closed(); round++) {
        const response = await small.app.inject({
          method: 'POST',
          url: '/v1/collect',
          headers: { 'user-agent': UA, 'content-type': 'application/json' },
          payload: { tagId: w.tagId, events: Array.from({ length: 9 }, () => bulky) },
        });
        expect(response.statusCode).toBe(202);
        if (round % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(closed()).toBe(true);
    } finally {
      await small.app.close();
    }
  });

  it('ends open streams with a final message when the server shuts down', async () => {
    const closing = await createTestApp();
    const closingUrl = await closing.app.listen({ port: 0, host: '127.0.0.1' });
    const w = await live(closing.app);
    const stream = await open(w.token, '', {}, closingUrl);
    await stream.until(() => stream.messages.length > 0);
    await closing.app.close();
    await stream.until(() => stream.ended, 5000);
    expect(stream.messages.at(-1)).toMatchObject({ event: 'close', data: JSON.stringify({ reason: 'server shutting down' }) });
  });
});

describe('across server processes', () => {
  it.runIf(engine === 'postgres')('delivers events collected by another process (LISTEN/NOTIFY)', async () => {
    const w = await live();
    const stream = await open(w.token, `?tagId=${w.tagId}`);
    await stream.until(() => stream.messages.length > 0);

    const other = spawnCli(['serve'], {
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: process.env.TEST_DATABASE_URL,
      MARKTAG_ADMIN_TOKEN: ADMIN_TOKEN,
      MARKTAG_DATA_DIR: `/tmp/marktag-stream-${randomUUID()}`,
      MARKTAG_REVERIFY_INTERVAL: 'off',
      LOG_LEVEL: 'info',
    });
    const exit = finished(other);
    try {
      const otherUrl = await listeningUrl(other);
      for (let i = 0; i < 3; i++) {
        const response = await fetch(`${otherUrl}/v1/collect`, {
          method: 'POST',
          headers: { 'user-agent': UA, 'content-type': 'text/plain' },
          body: JSON.stringify({ tagId: w.tagId, events: [{ type: `remote_${i}`, url: 'https://shop.test/' }] }),
        });
        expect(response.status).toBe(202);
      }
      await stream.waitForEvents(3);
      expect(parsed(stream).map((e) => e.type)).toEqual(['remote_0', 'remote_1', 'remote_2']);
    } finally {
      other.kill('SIGTERM');
      await exit;
    }
  }, 60_000);
});
