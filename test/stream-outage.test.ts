import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventSource } from 'eventsource';
import type { PostgresHandle } from '../src/db/client.js';
import type { ApiEvent } from '../src/modules/events/schemas.js';
import { generateToken } from '../src/modules/tokens/token-format.js';
import { createTestApp, type TestContext } from './helpers/app.js';
import { engine } from './helpers/database.js';
import { createLiveTag, type LiveTag } from './helpers/factories.js';
import { proxiedTestDatabase, type TcpProxy } from './helpers/tcp-proxy.js';

/**
 * A standard EventSource client (the `eventsource` package) across a database outage: the server
 * it streams from reaches PostgreSQL through a proxy that is cut, while another server, still
 * connected, keeps collecting. The client reconnects into the outage, is told to retry instead
 * of getting a 503 (which would end it for good), and once the database is back resumes by
 * itself with its Last-Event-ID: every event once, in order.
 */
const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  return condition();
}

describe.runIf(engine === 'postgres')('a live stream across a database outage', () => {
  let proxy: TcpProxy;
  let database: PostgresHandle;
  let streaming: TestContext;
  let collecting: TestContext;
  let url: string;
  let tag: LiveTag;

  beforeAll(async () => {
    // Other test files write to the same database meanwhile: the hub's reads of everyone's new events get time.
    ({ proxy, database } = await proxiedTestDatabase({ connectionTimeoutMillis: 2000, statementTimeoutMillis: 10_000, stallTimeoutMillis: 11_000 }));
    streaming = await createTestApp({}, { database, stream: { pollIntervalMs: 500 } });
    url = await streaming.app.listen({ port: 0, host: '127.0.0.1' });
    collecting = await createTestApp();
    tag = await createLiveTag(collecting.app);
  });
  afterAll(async () => {
    proxy.set('open');
    await streaming.app.close();
    await collecting.app.close();
    await database.close();
    await proxy.close();
  });

  async function collect(context: TestContext, types: string[]): Promise<void> {
    for (const type of types) {
      const response = await context.app.inject({
        method: 'POST',
        url: '/v1/collect',
        headers: { 'user-agent': UA, 'content-type': 'application/json' },
        payload: { tagId: tag.tagId, visitorId: 'v', events: [{ type, url: `https://${tag.domain}/` }] },
      });
      expect(response.statusCode, response.body).toBe(202);
    }
  }

  it('resumes by itself and receives every event once, in order', { timeout: 180_000 }, async () => {
    const received: { id: string; type: string }[] = [];
    const outageMessages: string[] = [];
    const client = new EventSource(`${url}/v1/partners/events/stream?tagId=${tag.tagId}`, {
      fetch: (input, init) => fetch(input, { ...init, headers: { ...init.headers, authorization: `Bearer ${tag.token}` } }),
    });
    client.addEventListener('event', (message) => {
      received.push({ id: message.lastEventId, type: (JSON.parse(String(message.data)) as ApiEvent).type });
    });
    client.addEventListener('error', (event) => {
      if ('data' in event && typeof event.data === 'string') outageMessages.push(event.data);
    });
    try {
      expect(await until(() => client.readyState === client.OPEN, 30_000), 'open').toBe(true);
      await collect(collecting, ['before_1', 'before_2', 'before_3']);
      expect(await until(() => received.length === 3, 30_000), `received ${received.length}`).toBe(true);

      // The database goes away, and the stream's connection drops: the client reconnects into the outage.
      proxy.set('cut');
      streaming.app.server.closeAllConnections();
      expect(await until(() => outageMessages.length > 0, 30_000), 'told to retry').toBe(true);
      expect(JSON.parse(outageMessages[0] ?? '{}')).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
      await collect(collecting, ['during_1', 'during_2', 'during_3']);
      // It keeps trying, and stays a live EventSource (a 503 would have closed it for good).
      expect(await until(() => outageMessages.length > 1, 30_000), 'retried during the outage').toBe(true);
      expect(client.readyState).not.toBe(client.CLOSED);

      proxy.set('open');
      expect(await until(() => received.length === 6, 30_000), `received ${received.length}`).toBe(true);
      await collect(streaming, ['after_1', 'after_2']);
      await collect(collecting, ['after_3']);
      expect(await until(() => received.length === 9, 30_000), `received ${received.length}`).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 500));

      expect(received.map((event) => event.type)).toEqual([
        'before_1', 'before_2', 'before_3', 'during_1', 'during_2', 'during_3', 'after_1', 'after_2', 'after_3',
      ]);
      const ids = received.map((event) => BigInt(event.id));
      expect(ids.every((id, i) => i === 0 || id > (ids[i - 1] ?? 0n))).toBe(true);
    } finally {
      client.close();
    }
  });

  it('tells an outage as a 200 event stream with only retry and an error message; real auth failures stay 401', { timeout: 30_000 }, async () => {
    proxy.set('cut');
    try {
      const stream = `${url}/v1/partners/events/stream`;
      // A well-formed token that cannot be checked now: no data, no hint whether it is valid.
      const unknown = await fetch(stream, { headers: { authorization: `Bearer ${generateToken()}` } });
      const checked = await fetch(stream, { headers: { authorization: `Bearer ${tag.token}` } });
      for (const response of [unknown, checked]) {
        expect(response.status).toBe(200);
        expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
        const body = await response.text();
        expect(body).toMatch(/^retry: \d+\nevent: error\ndata: \{"code":"SERVICE_UNAVAILABLE","reason":"[^"]+"\}\n\n$/);
      }
      // Refused without the database: still the documented 401.
      for (const headers of [{}, { authorization: 'Bearer mp_live_not-a-token' }] as Record<string, string>[]) {
        const refused = await fetch(stream, { headers });
        expect(refused.status).toBe(401);
        expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('AUTHENTICATION_ERROR');
      }
      // Other routes keep answering 503 with Retry-After.
      const other = await fetch(`${url}/v1/partners/events`, { headers: { authorization: `Bearer ${tag.token}` } });
      expect(other.status).toBe(503);
      expect(other.headers.get('retry-after')).toBeDefined();
    } finally {
      proxy.set('open');
    }
  });
});
