import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';
import { BROWSER_UA } from './setup.js';

export interface LoadResult {
  requestsPerSecond: number;
  ok: number;
  non2xx: number;
  errors: number;
  p50: number;
  p99: number;
  seconds: number;
}

/** A collector batch of `size` fresh events (new ids each time) for one of the tags. */
export function batchBody(tagIds: string[], size: number, extra: Record<string, unknown> = {}): string {
  const tagId = tagIds[Math.floor(Math.random() * tagIds.length)] ?? '';
  const events = Array.from({ length: size }, () => ({
    eventId: randomUUID(),
    type: 'page_view',
    url: 'https://shop.bench.test/products/42',
    title: 'Product 42',
    ...extra,
  }));
  return JSON.stringify({ tagId, visitorId: 'bench-visitor', sessionId: 'bench-session', events });
}

/** A server-side batch (POST /v1/partners/events) of `size` fresh purchases and page views, each of a visitor of its own. */
export function serverBatchBody(tagIds: string[], size: number): string {
  const tagId = tagIds[Math.floor(Math.random() * tagIds.length)] ?? '';
  const events = Array.from({ length: size }, (_, i) => ({
    eventId: randomUUID(),
    type: i % 10 === 0 ? 'purchase' : 'page_view',
    visitorId: `sv-${Math.floor(Math.random() * 1e9)}`,
    url: 'https://shop.bench.test/products/42?utm_source=newsletter&utm_medium=email',
    ...(i % 10 === 0 ? { value: 42.5, currency: 'EUR', userId: `user-${i}` } : {}),
  }));
  return JSON.stringify({ tagId, events });
}

/** autocannon against `url`: POSTs built per request, so every event id is new. */
export async function hammer(url: string, options: { connections: number; seconds: number; body: () => string; headers?: Record<string, string> }): Promise<LoadResult> {
  const result = await autocannon({
    url,
    method: 'POST',
    connections: options.connections,
    duration: options.seconds,
    headers: { 'content-type': 'application/json', 'user-agent': BROWSER_UA, ...options.headers },
    requests: [{ setupRequest: (request) => ({ ...request, body: options.body() }) }],
  });
  const ok = result['2xx'];
  return {
    requestsPerSecond: ok / (result.duration || options.seconds),
    ok,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    p50: result.latency.p50,
    p99: result.latency.p99,
    seconds: result.duration || options.seconds,
  };
}
