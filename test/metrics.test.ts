import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, createTestApp, type TestContext } from './helpers/app.js';
import { openPostgres } from '../src/db/client.js';
import { slowWrites } from './helpers/broken-database.js';
import { engine } from './helpers/database.js';
import { TestDnsServer } from './helpers/dns-server.js';
import { createLiveTag, createMerchant, createPartner } from './helpers/factories.js';
import { SseClient } from './helpers/sse.js';

/**
 * GET /metrics on the admin listener, scraped after real traffic: each named series exists and
 * moved by what was done. Every app has its own registry, so the counters here are this file's.
 */
const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const BOT_UA = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';
const TARGET = 'mtag.markopolo.ai';

let dns: TestDnsServer;
let ctx: TestContext;

beforeAll(async () => {
  dns = await TestDnsServer.start();
  ctx = await createTestApp({
    MARKTAG_DNS_SERVERS: `${dns.address.host}:${dns.address.port}`,
    MARKTAG_DNS_TIMEOUT_MS: '1000',
    // The shortest interval: a verified tag is due again after 0.8 s, so the backlog can be seen to grow.
    MARKTAG_REVERIFY_INTERVAL: '1s',
  });
});
afterAll(async () => {
  await ctx.app.close();
  await dns.close();
});

interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** Parses the text exposition into samples by series name. */
async function scrape(target = ctx): Promise<{ text: string; samples: Map<string, Sample[]> }> {
  const response = await target.admin.inject({ method: 'GET', url: '/metrics' });
  expect(response.statusCode).toBe(200);
  expect(response.headers['content-type']).toContain('text/plain');
  const samples = new Map<string, Sample[]>();
  for (const line of response.body.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match?.[1] || match[3] === undefined) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) if (key !== undefined) labels[key] = value ?? '';
    const list = samples.get(match[1]) ?? [];
    list.push({ labels, value: Number(match[3]) });
    samples.set(match[1], list);
  }
  return { text: response.body, samples };
}

/** The value of the one sample of `name` carrying `labels` (0 when there is none yet). */
function valueOf(samples: Map<string, Sample[]>, name: string, labels: Record<string, string> = {}): number {
  const found = (samples.get(name) ?? []).filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels[key] === value));
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0]?.value ?? 0;
}

async function collect(tagId: string, events: object[], userAgent = UA) {
  return ctx.app.inject({
    method: 'POST',
    url: '/v1/collect',
    headers: { 'user-agent': userAgent, 'content-type': 'application/json' },
    payload: { tagId, visitorId: 'v', events },
  });
}

const pageView = (eventId: string = randomUUID()) => ({ eventId, type: 'page_view', url: 'https://shop.example.com/' });

describe('GET /metrics', () => {
  it('is served on the admin listener only, without a token, in the Prometheus text format', async () => {
    const { text } = await scrape();
    expect(text).toContain('# TYPE marktag_http_requests_total counter');
    expect(text).toContain('# TYPE marktag_http_request_duration_seconds histogram');
    expect(text).toContain('process_resident_memory_bytes');
    expect((await ctx.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(404);
  });

  it('counts HTTP requests by listener, route template and status, with latency histograms', async () => {
    const { token } = await createPartner(ctx.app);
    const merchantId = await createMerchant(ctx.app, token);
    const before = (await scrape()).samples;
    for (let i = 0; i < 3; i++) {
      expect((await ctx.app.inject({ method: 'GET', url: `/v1/partners/merchant/${merchantId}`, headers: bearer(token) })).statusCode).toBe(200);
    }
    expect((await ctx.app.inject({ method: 'GET', url: `/v1/partners/merchant/${randomUUID()}`, headers: bearer(token) })).statusCode).toBe(404);
    expect((await ctx.app.inject({ method: 'GET', url: '/no/such/route' })).statusCode).toBe(404);
    const after = (await scrape()).samples;

    const route = { listener: 'public', method: 'GET', route: '/v1/partners/merchant/:merchantId' };
    const moved = (name: string, labels: Record<string, string>) => valueOf(after, name, labels) - valueOf(before, name, labels);
    expect(moved('marktag_http_requests_total', { ...route, status: '200' })).toBe(3);
    expect(moved('marktag_http_requests_total', { ...route, status: '404' })).toBe(1);
    // Unknown paths share one series: raw URLs never become labels.
    expect(moved('marktag_http_requests_total', { listener: 'public', method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
    expect(moved('marktag_http_request_duration_seconds_count', route)).toBe(4);
    expect(moved('marktag_http_request_duration_seconds_sum', route)).toBeGreaterThan(0);
    expect(moved('marktag_http_request_duration_seconds_bucket', { ...route, le: '+Inf' })).toBe(4);
    // The admin calls of createPartner are the admin listener's.
    expect(valueOf(after, 'marktag_http_requests_total', { listener: 'admin', method: 'POST', route: '/v1/admin/partners', status: '201' })).toBeGreaterThanOrEqual(1);
  });

  it('counts collector events accepted, duplicate, ignored and refused, and the batches that stored them', async () => {
    const tag = await createLiveTag(ctx.app);
    const unverified = await createPartner(ctx.app).then(async (partner) => {
      const merchantId = await createMerchant(ctx.app, partner.token);
      const generated = await ctx.app.inject({
        method: 'POST',
        url: '/v1/partners/marktag/generate',
        headers: bearer(partner.token),
        payload: { merchantId, domain: `u${randomUUID().slice(0, 8)}.test` },
      });
      return generated.json<{ tagId: string }>().tagId;
    });
    const before = (await scrape()).samples;

    const replayed = pageView();
    expect((await collect(tag.tagId, [replayed, pageView(), pageView()])).statusCode).toBe(202);
    expect((await collect(tag.tagId, [replayed, pageView()])).json()).toEqual({ accepted: 2, duplicates: 1 });
    expect((await collect(tag.tagId, [pageView(), pageView()], BOT_UA)).headers['x-marktag-ignored']).toBe('bot');
    expect((await collect(unverified, [pageView(), pageView(), pageView(), pageView()])).statusCode).toBe(403);
    expect((await collect(tag.tagId, [{ type: 'Not A Type', url: 'https://shop.example.com/' }])).statusCode).toBe(400);

    const after = (await scrape()).samples;
    const moved = (name: string, labels: Record<string, string> = {}) => valueOf(after, name, labels) - valueOf(before, name, labels);
    expect(moved('marktag_collector_events_total', { outcome: 'accepted' })).toBe(4);
    expect(moved('marktag_collector_events_total', { outcome: 'duplicate' })).toBe(1);
    expect(moved('marktag_collector_events_total', { outcome: 'ignored' })).toBe(2);
    expect(moved('marktag_collector_events_total', { outcome: 'refused' })).toBe(5);
    expect(moved('marktag_http_requests_total', { listener: 'public', method: 'POST', route: '/v1/collect', status: '202' })).toBe(3);

    // Two requests answered after their flushes: at least one flush, at most two, five events in them.
    const flushes = moved('marktag_batch_events_count');
    expect(flushes).toBeGreaterThanOrEqual(1);
    expect(flushes).toBeLessThanOrEqual(2);
    expect(moved('marktag_batch_events_sum')).toBe(5);
    expect(moved('marktag_batch_commit_duration_seconds_count', { result: 'committed' })).toBe(flushes);
    expect(moved('marktag_batch_commit_duration_seconds_sum', { result: 'committed' })).toBeGreaterThan(0);
    expect(valueOf(after, 'marktag_batch_queue_events')).toBe(0);
  });

  it('shows events waiting in the group-commit queue', async () => {
    // The database holds each write 300 ms here, so a scrape sees the events queued.
    const slow = await createTestApp({}, { database: slowWrites(ctx.database, 300) });
    try {
      const tag = await createLiveTag(slow.app);
      const pending = slow.app.inject({
        method: 'POST',
        url: '/v1/collect',
        headers: { 'user-agent': UA, 'content-type': 'application/json' },
        payload: { tagId: tag.tagId, events: [pageView(), pageView(), pageView()] },
      });
      let queued = 0;
      for (let i = 0; i < 20 && queued === 0; i++) {
        queued = valueOf((await scrape(slow)).samples, 'marktag_batch_queue_events');
        if (queued === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(queued).toBe(3);
      expect((await pending).statusCode).toBe(202);
      expect(valueOf((await scrape(slow)).samples, 'marktag_batch_queue_events')).toBe(0);
    } finally {
      await slow.app.close();
    }
  });

  it('counts DNS verifications by outcome, for verify calls and background re-checks, and the re-check backlog', async () => {
    const partner = await createPartner(ctx.app);
    const merchantId = await createMerchant(ctx.app, partner.token);
    const tagOn = async (domain: string) =>
      (
        await ctx.app.inject({ method: 'POST', url: '/v1/partners/marktag/generate', headers: bearer(partner.token), payload: { merchantId, domain } })
      ).json<{ tagId: string }>().tagId;
    const verify = (tagId: string, subdomain: string) =>
      ctx.app.inject({ method: 'POST', url: '/v1/partners/marktag/verify', headers: bearer(partner.token), payload: { tagId, subdomain } });
    const good = `g${randomUUID().slice(0, 8)}.test`;
    const bad = `b${randomUUID().slice(0, 8)}.test`;
    const broken = `s${randomUUID().slice(0, 8)}.test`;
    dns.set(`mtag.${good}`, { cname: TARGET });
    dns.set(`mtag.${broken}`, 'servfail');
    dns.set(broken, 'servfail');
    const before = (await scrape()).samples;

    const goodTag = await tagOn(good);
    expect((await verify(goodTag, good)).statusCode).toBe(200);
    expect((await verify(await tagOn(bad), bad)).statusCode).toBe(422);
    expect((await verify(await tagOn(broken), broken)).statusCode).toBe(503);

    // Due again 0.8 s after its verification: the backlog counts it.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const due = (await scrape()).samples;
    expect(valueOf(due, 'marktag_reverify_backlog_tags')).toBeGreaterThanOrEqual(1);
    dns.set(`mtag.${good}`, undefined);
    expect(await ctx.app.services.reverifier.runOnce({ partnerId: partner.partnerId })).toMatchObject({ checked: 1, failed: 1 });

    const after = (await scrape()).samples;
    const moved = (labels: Record<string, string>) => valueOf(after, 'marktag_dns_verifications_total', labels) - valueOf(before, 'marktag_dns_verifications_total', labels);
    expect(moved({ check: 'verify', outcome: 'verified' })).toBe(1);
    expect(moved({ check: 'verify', outcome: 'failed' })).toBe(1);
    expect(moved({ check: 'verify', outcome: 'unavailable' })).toBe(1);
    expect(moved({ check: 'recheck', outcome: 'failed' })).toBe(1);
  });

  it('counts open live streams', async () => {
    const tag = await createLiveTag(ctx.app);
    const url = await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    const streams = await Promise.all([0, 1].map(() => SseClient.open(`${url}/v1/partners/events/stream?tagId=${tag.tagId}`, bearer(tag.token))));
    try {
      for (const stream of streams) await stream.until(() => stream.messages.length > 0);
      expect(valueOf((await scrape()).samples, 'marktag_streams_open')).toBe(2);
    } finally {
      for (const stream of streams) stream.close();
    }
    let open = 2;
    for (let i = 0; i < 50 && open > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      open = valueOf((await scrape()).samples, 'marktag_streams_open');
    }
    expect(open).toBe(0);
  });

  it('shows the PostgreSQL pool: idle and busy connections, waiting queries, size limit (none on PGlite, which has no pool)', async () => {
    const { samples } = await scrape();
    if (engine === 'pglite') {
      expect(samples.has('marktag_db_pool_max')).toBe(false);
      expect(samples.has('marktag_db_pool_connections')).toBe(false);
      return;
    }
    const max = valueOf(samples, 'marktag_db_pool_max');
    expect(max).toBeGreaterThan(0);
    const connections = valueOf(samples, 'marktag_db_pool_connections', { state: 'idle' }) + valueOf(samples, 'marktag_db_pool_connections', { state: 'busy' });
    // This file's queries opened at least one connection, and never more than the limit.
    expect(connections).toBeGreaterThanOrEqual(1);
    expect(connections).toBeLessThanOrEqual(max);
    expect(samples.get('marktag_db_pool_waiting')).toHaveLength(1);
  });

  it('still answers while the database is unreachable, with NaN for what needs it', async () => {
    const database = openPostgres('postgres://marktag@127.0.0.1:1/none', { connectionTimeoutMillis: 3000 });
    const down = await createTestApp({ MARKTAG_REVERIFY_INTERVAL: '1h' }, { database });
    try {
      const { samples } = await scrape(down);
      expect(samples.get('marktag_reverify_backlog_tags')).toHaveLength(1);
      expect(valueOf(samples, 'marktag_reverify_backlog_tags')).toBeNaN();
      expect(valueOf(samples, 'marktag_db_pool_max')).toBeGreaterThan(0);
      // What lives in the process is still there.
      expect(samples.get('marktag_streams_open')).toEqual([{ labels: {}, value: 0 }]);
      expect(samples.get('marktag_batch_queue_events')).toEqual([{ labels: {}, value: 0 }]);
    } finally {
      await down.app.close();
      await database.close();
    }
  });
});
