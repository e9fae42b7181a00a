import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import type { ApiEvent, EventPage } from '../src/modules/events/schemas.js';
import type { TagDetails } from '../src/modules/marktags/schemas.js';
import { bearer, createTestApp, errorOf, type TestContext } from './helpers/app.js';
import { queryRows } from './helpers/database.js';
import { createLiveTag, createMerchant, createPartner, createTag, type LiveTag } from './helpers/factories.js';

/**
 * contracts/server-events.md through the HTTP API: server-side ingestion, deduplication across the
 * browser and server paths, identity, URL privacy, session-scoped attribution and country.
 */
const CHROME_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const MINUTE = 60_000;

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestApp();
});
afterAll(async () => ctx.app.close());

function collect(body: Record<string, unknown>, headers: Record<string, string> = {}, app: App = ctx.app): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: '/v1/collect', headers: { 'user-agent': CHROME_UA, 'content-type': 'application/json', ...headers }, payload: JSON.stringify(body) });
}

function sendServer(token: string, body: unknown): Promise<LightMyRequestResponse> {
  return ctx.app.inject({ method: 'POST', url: '/v1/partners/events', headers: { ...bearer(token), 'content-type': 'application/json' }, payload: JSON.stringify(body) });
}

async function eventsOf(tag: LiveTag, query: Record<string, string> = {}): Promise<ApiEvent[]> {
  const search = new URLSearchParams({ merchantId: tag.merchantId, limit: '1000', ...query });
  const response = await ctx.app.inject({ method: 'GET', url: `/v1/partners/events?${search.toString()}`, headers: bearer(tag.token) });
  expect(response.statusCode, response.body).toBe(200);
  return response.json<EventPage>().events;
}

const byEventId = async (tag: LiveTag, eventId: string) => (await eventsOf(tag)).find((event) => event.eventId === eventId);

describe('POST /v1/partners/events', () => {
  it('stores a server purchase with source "server", its userId, value and no url', async () => {
    const tag = await createLiveTag(ctx.app);
    const eventId = randomUUID();
    const response = await sendServer(tag.token, {
      tagId: tag.tagId,
      events: [{ eventId, type: 'purchase', userId: 'user-1', value: 49.9, currency: 'EUR', properties: { orderId: 'A-1' } }],
    });
    expect(response.statusCode, response.body).toBe(202);
    expect(response.json()).toEqual({ accepted: 1, duplicates: 0 });
    const stored = await byEventId(tag, eventId);
    expect(stored).toMatchObject({ type: 'purchase', source: 'server', userId: 'user-1', value: 49.9, currency: 'EUR', url: null, country: null });
    expect(stored?.device).toEqual({ type: null, browser: null, os: null });
    expect(stored?.attribution).toMatchObject({ source: '(direct)', medium: '(none)', channel: 'Direct' });
  });

  it('stores a purchase sent by the tracker and by the server with the same eventId once, whichever comes first', async () => {
    const tag = await createLiveTag(ctx.app);
    const first = randomUUID();
    const browser = (eventId: string) =>
      collect({ tagId: tag.tagId, visitorId: 'v-dedup', events: [{ eventId, type: 'purchase', url: `https://${tag.domain}/thanks`, value: 10, currency: 'USD' }] });
    const server = (eventId: string) => sendServer(tag.token, { tagId: tag.tagId, events: [{ eventId, type: 'purchase', visitorId: 'v-dedup', value: 10, currency: 'USD' }] });

    expect((await browser(first)).json()).toEqual({ accepted: 1, duplicates: 0 });
    expect((await server(first)).json()).toEqual({ accepted: 1, duplicates: 1 });
    const second = randomUUID();
    expect((await server(second)).json()).toEqual({ accepted: 1, duplicates: 0 });
    expect((await browser(second)).json()).toEqual({ accepted: 1, duplicates: 1 });

    const stored = (await eventsOf(tag)).filter((event) => event.eventId === first || event.eventId === second);
    expect(stored.map((event) => [event.eventId, event.source]).sort()).toEqual([[first, 'browser'], [second, 'server']].sort());
  });

  it('accepts any tag state and never changes it, and is never bot-filtered', async () => {
    const partner = await createPartner(ctx.app);
    const merchantId = await createMerchant(ctx.app, partner.token);
    const tagId = await createTag(ctx.app, partner.token, merchantId);
    const response = await ctx.app.inject({
      method: 'POST',
      url: '/v1/partners/events',
      headers: { ...bearer(partner.token), 'content-type': 'application/json', 'user-agent': 'curl/8.5.0' },
      payload: { tagId, events: [{ type: 'lead', visitorId: 'v1' }] },
    });
    expect(response.statusCode, response.body).toBe(202);
    expect(response.json()).toEqual({ accepted: 1, duplicates: 0 });
    const details = await ctx.app.inject({ method: 'GET', url: `/v1/partners/marktag/${tagId}`, headers: bearer(partner.token) });
    expect(details.json<TagDetails>()).toMatchObject({ status: 'inactive', lastEventAt: null });
  });

  it('refuses bad input in the envelope and stores nothing of the request', async () => {
    const tag = await createLiveTag(ctx.app);
    const other = await createLiveTag(ctx.app);
    const cases: [unknown, number, string, string | undefined][] = [
      [{ tagId: tag.tagId, events: [{ type: 'purchase', visitorId: 'v' }, { type: 'purchase' }] }, 400, 'VALIDATION_ERROR', 'events.1'],
      [{ tagId: tag.tagId, events: [{ type: 'purchase', userId: 'u', timestamp: new Date(Date.now() - 8 * 24 * 60 * MINUTE).toISOString() }] }, 400, 'VALIDATION_ERROR', 'events.0.timestamp'],
      [{ tagId: tag.tagId, events: Array.from({ length: 1001 }, () => ({ type: 'lead', userId: 'u' })) }, 400, 'VALIDATION_ERROR', undefined],
      [{ tagId: tag.tagId, events: [{ type: 'Bad Type', userId: 'u' }] }, 400, 'VALIDATION_ERROR', undefined],
      [{ tagId: tag.tagId, events: [{ type: 'lead', userId: 'u', user: { emailSha256: 'nothex' } }] }, 400, 'VALIDATION_ERROR', undefined],
      [{ tagId: tag.tagId, events: [{ type: 'lead', userId: 'u', country: 'germany' }] }, 400, 'VALIDATION_ERROR', undefined],
      [{ tagId: other.tagId, events: [{ type: 'lead', userId: 'u' }] }, 404, 'TAG_NOT_FOUND', undefined],
      [{ tagId: randomUUID(), events: [{ type: 'lead', userId: 'u' }] }, 404, 'TAG_NOT_FOUND', undefined],
    ];
    for (const [body, status, code, field] of cases) {
      const response = await sendServer(tag.token, body);
      expect(response.statusCode, response.body).toBe(status);
      const error = errorOf(response);
      expect(error.code).toBe(code);
      if (field) expect(error.details?.map((detail) => detail.field)).toContain(field);
    }
    const unauthenticated = await ctx.app.inject({ method: 'POST', url: '/v1/partners/events', payload: { tagId: tag.tagId, events: [{ type: 'lead', userId: 'u' }] } });
    expect(unauthenticated.statusCode).toBe(401);
    expect(errorOf(unauthenticated).code).toBe('AUTHENTICATION_ERROR');
    const tooBig = await ctx.app.inject({
      method: 'POST',
      url: '/v1/partners/events',
      headers: { ...bearer(tag.token), 'content-type': 'application/json' },
      payload: JSON.stringify({ tagId: tag.tagId, events: [{ type: 'lead', userId: 'u', title: 'x'.repeat(1024 * 1024) }] }),
    });
    expect(tooBig.statusCode).toBe(413);
    expect(errorOf(tooBig).code).toBe('PAYLOAD_TOO_LARGE');
    expect(await eventsOf(tag)).toEqual([]);
  });

  it('keeps a client time up to 7 days back and replaces one more than 5 minutes ahead', async () => {
    const tag = await createLiveTag(ctx.app);
    const past = new Date(Date.now() - 6 * 24 * 60 * MINUTE).toISOString();
    const ahead = new Date(Date.now() + 10 * MINUTE).toISOString();
    const [old, future] = [randomUUID(), randomUUID()];
    const response = await sendServer(tag.token, { tagId: tag.tagId, events: [{ eventId: old, type: 'lead', userId: 'u', timestamp: past }, { eventId: future, type: 'lead', userId: 'u', timestamp: ahead }] });
    expect(response.statusCode, response.body).toBe(202);
    const events = await eventsOf(tag, { from: new Date(Date.now() - 8 * 24 * 60 * MINUTE).toISOString() });
    expect(events.find((event) => event.eventId === old)?.timestamp).toBe(past);
    const replaced = events.find((event) => event.eventId === future);
    expect(replaced?.timestamp).toBe(replaced?.receivedAt);
  });
});

describe('identity', () => {
  it('links a server-only purchase with a userId to the visitor who identified in the browser', async () => {
    const tag = await createLiveTag(ctx.app);
    const identify = await collect({
      tagId: tag.tagId,
      visitorId: 'v-browser',
      sessionId: 's-identify',
      userId: 'user-42',
      user: { email: 'Jane@Example.com' },
      events: [{ type: 'identify', url: `https://${tag.domain}/account` }],
    });
    expect(identify.statusCode, identify.body).toBe(202);
    const purchase = randomUUID();
    expect((await sendServer(tag.token, { tagId: tag.tagId, events: [{ eventId: purchase, type: 'purchase', userId: 'user-42', value: 20, currency: 'EUR' }] })).statusCode).toBe(202);
    expect(await byEventId(tag, purchase)).toMatchObject({ visitorId: 'v-browser', userId: 'user-42', source: 'server' });

    // A later browser event of that visitor without a userId gets it too.
    const later = randomUUID();
    await collect({ tagId: tag.tagId, visitorId: 'v-browser', events: [{ eventId: later, type: 'page_view', url: `https://${tag.domain}/` }] });
    expect((await byEventId(tag, later))?.userId).toBe('user-42');
    expect((await eventsOf(tag, { userId: 'user-42' })).map((event) => event.eventId).sort()).toEqual(
      (await eventsOf(tag)).filter((event) => event.userId === 'user-42').map((event) => event.eventId).sort(),
    );
    expect((await eventsOf(tag, { source: 'server' })).map((event) => event.eventId)).toEqual([purchase]);

    // The identity record holds the email only as the SHA-256 of its normalised form.
    const [identity] = await queryRows<{ email_sha256: string | null }>(ctx.database, sql`select email_sha256 from identities where merchant_id = ${tag.merchantId} and user_id = 'user-42'`);
    expect(identity?.email_sha256).toBe(createHash('sha256').update('jane@example.com').digest('hex'));
  });

  it('gives a user no browser has identified one visitor of their own', async () => {
    const tag = await createLiveTag(ctx.app);
    const ids: string[] = [randomUUID(), randomUUID()];
    await sendServer(tag.token, { tagId: tag.tagId, events: ids.map((eventId) => ({ eventId, type: 'lead', userId: 'crm-7' })) });
    const events = (await eventsOf(tag)).filter((event) => ids.includes(event.eventId));
    expect(events).toHaveLength(2);
    expect(new Set(events.map((event) => event.visitorId)).size).toBe(1);
    expect(events[0]?.visitorId).toMatch(/^u_[A-Za-z0-9_-]+$/);
  });

  it('stores no email, phone or client address in clear in any table', async () => {
    const tag = await createLiveTag(ctx.app);
    const email = `secret.${randomUUID().slice(0, 8)}@example.com`;
    const phone = '+44 20 7946 0958';
    const address = '203.0.113.77';
    const proxied = await createTestApp({ MARKTAG_TRUST_PROXY: 'true' }, { database: ctx.database });
    try {
      await collect(
        { tagId: tag.tagId, visitorId: 'v-secret', userId: 'u-secret', user: { email, phone }, events: [{ type: 'identify', url: `https://${tag.domain}/?email=${encodeURIComponent(email)}` }] },
        { 'x-forwarded-for': address },
        proxied.app,
      );
    } finally {
      await proxied.app.close();
    }
    await sendServer(tag.token, { tagId: tag.tagId, events: [{ type: 'purchase', userId: 'u-secret', user: { email, phone }, url: `https://${tag.domain}/thanks?phone=${encodeURIComponent(phone)}` }] });
    const needles = [email, email.toLowerCase(), phone, phone.replace(/\D/g, ''), address];
    const tables = await queryRows<{ table_name: string }>(
      ctx.database,
      sql`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`,
    );
    expect(tables.length).toBeGreaterThan(5);
    for (const { table_name: table } of tables) {
      const rows = await queryRows<{ text: string }>(ctx.database, sql`select t::text as text from ${sql.identifier(table)} t`);
      for (const { text } of rows) for (const needle of needles) expect(text.includes(needle), `${table} holds ${needle}`).toBe(false);
    }
  });
});

describe('URL privacy', () => {
  it('stores only the allowed query parameters, no fragment, and the referrer as origin and path', async () => {
    const tag = await createLiveTag(ctx.app);
    const eventId = randomUUID();
    await collect({
      tagId: tag.tagId,
      visitorId: 'v-privacy',
      events: [{ eventId, type: 'page_view', url: `https://${tag.domain}/landing?email=a@b.c&utm_source=news&gclid=X#reset=token`, referrer: 'https://mail.example.org/inbox?token=123#x' }],
    });
    const stored = await byEventId(tag, eventId);
    expect(stored?.url).toBe(`https://${tag.domain}/landing?utm_source=news&gclid=X`);
    expect(stored?.referrer).toBe('https://mail.example.org/inbox');
    expect(stored?.attribution).toMatchObject({ source: 'news', clickIdType: 'google', landingPage: '/landing' });
  });

  it("keeps a merchant's own parameters once it names them", async () => {
    const tag = await createLiveTag(ctx.app);
    const patch = await ctx.app.inject({ method: 'PATCH', url: `/v1/partners/merchant/${tag.merchantId}`, headers: bearer(tag.token), payload: { keepQueryParams: ['q', 'variant'] } });
    expect(patch.statusCode, patch.body).toBe(200);
    expect(patch.json()).toMatchObject({ keepQueryParams: ['q', 'variant'] });
    const eventId = randomUUID();
    await sendServer(tag.token, { tagId: tag.tagId, events: [{ eventId, type: 'page_view', visitorId: 'v', url: `https://${tag.domain}/search?q=shoes&session=abc&variant=b` }] });
    expect((await byEventId(tag, eventId))?.url).toBe(`https://${tag.domain}/search?q=shoes&variant=b`);

    const tooMany = await ctx.app.inject({
      method: 'PATCH',
      url: `/v1/partners/merchant/${tag.merchantId}`,
      headers: bearer(tag.token),
      payload: { keepQueryParams: Array.from({ length: 21 }, (_, i) => `p${i}`) },
    });
    expect(tooMany.statusCode).toBe(400);
    expect(errorOf(tooMany).code).toBe('VALIDATION_ERROR');
  });
});

describe('attribution with session scope', () => {
  it('credits a later /thanks purchase of the session to the campaign that started it, until another campaign starts', async () => {
    const tag = await createLiveTag(ctx.app);
    const session = { tagId: tag.tagId, visitorId: 'v-campaign', sessionId: 's-campaign' };
    const start = Date.now() - 20 * MINUTE;
    const at = (minutes: number) => new Date(start + minutes * MINUTE).toISOString();
    const ids = { landing: randomUUID(), product: randomUUID(), thanks: randomUUID(), second: randomUUID(), after: randomUUID() };
    await collect({
      ...session,
      events: [{ eventId: ids.landing, type: 'page_view', timestamp: at(0), url: `https://${tag.domain}/spring?utm_source=newsletter&utm_medium=email&utm_campaign=spring`, referrer: 'https://mail.example.org/' }],
    });
    // Separate requests, as pages of one visit are.
    await collect({ ...session, events: [{ eventId: ids.product, type: 'page_view', timestamp: at(1), url: `https://${tag.domain}/products/1`, referrer: `https://${tag.domain}/spring` }] });
    await collect({ ...session, events: [{ eventId: ids.thanks, type: 'purchase', timestamp: at(2), value: 30, currency: 'EUR', url: `https://${tag.domain}/thanks` }] });
    await collect({
      ...session,
      events: [
        { eventId: ids.second, type: 'page_view', timestamp: at(3), url: `https://${tag.domain}/sale?gclid=abc` },
        { eventId: ids.after, type: 'page_view', timestamp: at(4), url: `https://${tag.domain}/sale/2` },
      ],
    });
    const events = await eventsOf(tag);
    const of = (id: string) => events.find((event) => event.eventId === id)?.attribution;
    const spring = { source: 'newsletter', medium: 'email', campaign: 'spring', channel: 'Email', landingPage: '/spring' };
    expect(of(ids.landing)).toMatchObject(spring);
    expect(of(ids.product)).toMatchObject(spring);
    expect(of(ids.thanks)).toMatchObject(spring);
    const paid = { source: 'google', medium: 'cpc', campaign: null, channel: 'Paid Search', clickIdType: 'google', landingPage: '/sale' };
    expect(of(ids.second)).toMatchObject(paid);
    expect(of(ids.after)).toMatchObject(paid);
  });

  it('gives a server event 10 minutes after a session its attribution, and Direct after more than 30', async () => {
    const tag = await createLiveTag(ctx.app);
    const started = Date.now() - 45 * MINUTE;
    await collect({
      tagId: tag.tagId,
      visitorId: 'v-late',
      sessionId: 's-late',
      events: [{ type: 'page_view', timestamp: new Date(started).toISOString(), url: `https://${tag.domain}/?utm_source=partner&utm_medium=affiliate` }],
    });
    const [soon, late] = [randomUUID(), randomUUID()];
    await sendServer(tag.token, {
      tagId: tag.tagId,
      events: [
        { eventId: soon, type: 'purchase', visitorId: 'v-late', timestamp: new Date(started + 10 * MINUTE).toISOString() },
        { eventId: late, type: 'purchase', visitorId: 'v-late', timestamp: new Date(started + 40 * MINUTE).toISOString() },
      ],
    });
    expect((await byEventId(tag, soon))?.attribution).toMatchObject({ source: 'partner', medium: 'affiliate', channel: 'Affiliates' });
    expect((await byEventId(tag, late))?.attribution).toMatchObject({ source: '(direct)', channel: 'Direct' });
  });
});

describe('country', () => {
  it('is null for a loopback client and the shipped database\'s country behind a trusted proxy', async () => {
    const tag = await createLiveTag(ctx.app);
    const [local, forwarded] = [randomUUID(), randomUUID()];
    await collect({ tagId: tag.tagId, visitorId: 'v-geo', events: [{ eventId: local, type: 'page_view', url: `https://${tag.domain}/` }] });
    const proxied = await createTestApp({ MARKTAG_TRUST_PROXY: 'true' }, { database: ctx.database });
    try {
      // 8.8.8.8: Google's resolver, allocated in the United States in the shipped data.
      await collect({ tagId: tag.tagId, visitorId: 'v-geo', events: [{ eventId: forwarded, type: 'page_view', url: `https://${tag.domain}/` }] }, { 'x-forwarded-for': '8.8.8.8' }, proxied.app);
    } finally {
      await proxied.app.close();
    }
    expect((await byEventId(tag, local))?.country).toBeNull();
    expect((await byEventId(tag, forwarded))?.country).toBe('US');
  });

  it('reads the country data of MARKTAG_COUNTRY_DATA_DIR instead of the shipped one', async () => {
    const tag = await createLiveTag(ctx.app);
    const folder = await mkdtemp(join(tmpdir(), 'marktag-country-'));
    const eventId = randomUUID();
    try {
      // A fresher file that places 8.8.0.0/16 in France (the shipped data says US).
      await writeFile(join(folder, 'geo-whois-asn-country-ipv4-num.csv'), `${8 * 2 ** 24 + 8 * 2 ** 16},${8 * 2 ** 24 + 8 * 2 ** 16 + 65535},FR\n`);
      await writeFile(join(folder, 'geo-whois-asn-country-ipv6-num.csv'), '');
      const fresher = await createTestApp({ MARKTAG_TRUST_PROXY: 'true', MARKTAG_COUNTRY_DATA_DIR: folder }, { database: ctx.database });
      try {
        await collect({ tagId: tag.tagId, visitorId: 'v-geo', events: [{ eventId, type: 'page_view', url: `https://${tag.domain}/` }] }, { 'x-forwarded-for': '8.8.8.8' }, fresher.app);
      } finally {
        await fresher.app.close();
      }
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
    expect((await byEventId(tag, eventId))?.country).toBe('FR');
  });

  it('takes the country a server sends', async () => {
    const tag = await createLiveTag(ctx.app);
    const eventId = randomUUID();
    await sendServer(tag.token, { tagId: tag.tagId, events: [{ eventId, type: 'lead', userId: 'u', country: 'DE' }] });
    expect((await byEventId(tag, eventId))?.country).toBe('DE');
  });
});

describe('GET /v1/partners/marktag/{tagId}/diagnostics', () => {
  it('counts the last 24 hours by outcome, and when each source last stored an event', async () => {
    const tag = await createLiveTag(ctx.app);
    const other = await createLiveTag(ctx.app);
    const page = (eventId = randomUUID()) => ({ eventId, type: 'page_view', url: `https://${tag.domain}/` });
    const replayed = page();
    await collect({ tagId: tag.tagId, visitorId: 'v-diag', events: [replayed, page()] }, { origin: `https://${tag.domain}` });
    await collect({ tagId: tag.tagId, visitorId: 'v-diag', events: [replayed] }, { origin: `https://${tag.domain}` });
    await collect({ tagId: tag.tagId, events: [page(), page(), page()] }, { 'user-agent': 'Googlebot/2.1 (+http://www.google.com/bot.html)' });
    expect((await collect({ tagId: tag.tagId, events: [page(), page()] }, { origin: 'https://elsewhere.example' })).statusCode).toBe(403);
    expect((await collect({ tagId: tag.tagId, events: [{ type: 'Not A Type', url: `https://${tag.domain}/` }] })).statusCode).toBe(400);
    await sendServer(tag.token, { tagId: tag.tagId, events: [{ type: 'purchase', userId: 'u-diag' }] });
    // A body over 64 KiB is never read: the tag id of the URL (the tracker sends it) names the tag.
    const huge = JSON.stringify({ tagId: tag.tagId, events: [{ ...page(), title: 'x'.repeat(70_000) }] });
    for (const url of [`/v1/collect?t=${tag.tagId}`, '/v1/collect?t=not-a-tag', '/v1/collect']) {
      const refused = await ctx.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', 'user-agent': CHROME_UA }, payload: huge });
      expect(refused.statusCode, url).toBe(413);
    }
    await ctx.app.services.counter.flush();

    const response = await ctx.app.inject({ method: 'GET', url: `/v1/partners/marktag/${tag.tagId}/diagnostics`, headers: bearer(tag.token) });
    expect(response.statusCode, response.body).toBe(200);
    const report = response.json<Record<string, unknown>>();
    expect(report).toMatchObject({
      accepted: 3,
      duplicates: 1,
      ignored: { bot: 3, suppressed: 0 },
      rejected: { VALIDATION_ERROR: 1, ORIGIN_NOT_ALLOWED: 2, TAG_NOT_VERIFIED: 0, PAYLOAD_TOO_LARGE: 1, RATE_LIMITED: 0 },
    });
    const window = report.window as { from: string; to: string };
    expect(Date.parse(window.to) - Date.parse(window.from)).toBeGreaterThan(23 * 60 * MINUTE);
    expect(Date.parse(window.to) - Date.parse(window.from)).toBeLessThanOrEqual(24 * 60 * MINUTE);
    for (const field of ['lastEventAt', 'lastBrowserEventAt', 'lastServerEventAt']) {
      expect(Date.now() - Date.parse(String(report[field])), field).toBeLessThan(MINUTE);
    }

    const foreign = await ctx.app.inject({ method: 'GET', url: `/v1/partners/marktag/${other.tagId}/diagnostics`, headers: bearer(tag.token) });
    expect(foreign.statusCode).toBe(404);
    expect(errorOf(foreign).code).toBe('TAG_NOT_FOUND');
  });
});
