import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GenerateResponse, TagDetails } from '../../src/modules/marktags/schemas.js';
import { haveBrowser, launchTrackerBrowser } from '../helpers/browser.js';
import { bearer, createTestApp, type TestContext } from '../helpers/app.js';
import { withFault } from '../helpers/broken-database.js';
import { queryRows, testDatabase } from '../helpers/database.js';
import { createMerchant, createPartner } from '../helpers/factories.js';
import { freePort } from '../helpers/process.js';

/**
 * The tracker in a real browser (Debian's chromium, driven by playwright-core): a merchant page on
 * its own hostname loads mtag.js from the tag host through the install snippet, both names mapped
 * to loopback. In CI a missing browser fails the run; elsewhere the test is skipped with a note.
 */

interface StoredEvent {
  type: string;
  url: string;
  referrer: string | null;
  value: string | null;
  currency: string | null;
  visitor_id: string;
  session_id: string | null;
  properties: Record<string, unknown> | null;
  device_browser: string | null;
}

describe.skipIf(!haveBrowser)('the tracker in Chromium', () => {
  const partnerDomain = `e2e${randomUUID().slice(0, 8)}.test`;
  const site = `shop.${partnerDomain}`;
  let ctx: TestContext;
  let browser: Browser;
  let siteServer: Server;
  let sitePort: number;
  let token: string;
  let partnerToken: string | undefined;

  /** Pages of the merchant site, each with the install snippet from the tag details. */
  const pages = new Map<string, string>();

  beforeAll(async () => {
    const apiPort = await freePort();
    ctx = await createTestApp({ MARKTAG_PUBLIC_URL: `http://localhost:${apiPort}` });
    await ctx.app.listen({ port: apiPort, host: '127.0.0.1' });

    siteServer = createServer((request, response) => {
      const page = pages.get((request.url ?? '/').split('?')[0] ?? '/');
      response.writeHead(page ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' });
      response.end(page ?? 'not found');
    });
    await new Promise<void>((resolve) => siteServer.listen(0, '127.0.0.1', resolve));
    sitePort = (siteServer.address() as AddressInfo).port;

    browser = await launchTrackerBrowser(partnerDomain);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => siteServer?.close(resolve));
    await ctx?.app.close();
  });

  async function tagWithSnippet(): Promise<{ tagId: string; snippet: string }> {
    // One partner owns the partner domain (a domain belongs to one partner); each call is a new merchant and tag.
    partnerToken ??= (await createPartner(ctx.app, { domain: partnerDomain })).token;
    token = partnerToken;
    const merchantId = await createMerchant(ctx.app, token);
    // The pages' own parameters these tests follow; any other is dropped before storage.
    await ctx.app.inject({ method: 'PATCH', url: `/v1/partners/merchant/${merchantId}`, headers: bearer(token), payload: { keepQueryParams: ['id', 'page'] } });
    const generated = await ctx.app.inject({ method: 'POST', url: '/v1/partners/marktag/generate', headers: bearer(token), payload: { merchantId, domain: site } });
    const { tagId } = generated.json<GenerateResponse>();
    const details = await ctx.app.inject({ method: 'GET', url: `/v1/partners/marktag/${tagId}`, headers: bearer(token) });
    return { tagId, snippet: details.json<TagDetails>().snippet };
  }

  async function eventsOf(tagId: string, count: number, timeoutMs = 10_000): Promise<StoredEvent[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rows = await queryRows<StoredEvent>(ctx.database, sql`select * from events where tag_id = ${tagId} order by timestamp, id`);
      if (rows.length >= count || Date.now() > deadline) return rows;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('collects page views, single-page navigation, queued and tracked conversions, across pages, by beacon at the end', async () => {
    const { tagId, snippet } = await tagWithSnippet();
    expect(snippet).toContain(`http://mtag.${partnerDomain}:`);
    // A call made before mtag.js has loaded: kept by the queue stub.
    pages.set('/', `<!doctype html><title>Home</title>${snippet}<script>mtag('track', 'lead', { source: 'stub' })</script><h1>Home</h1>`);
    pages.set('/second', `<!doctype html><title>Second</title>${snippet}<h1>Second</h1>`);
    const origin = `http://${site}:${sitePort}`;

    pages.set('/blank', '<!doctype html><title>Blank</title>');
    const context = await browser.newContext();
    // Counts the beacons the pages send, where a later page of the site can read them.
    await context.addInitScript(`(() => {
      const send = navigator.sendBeacon.bind(navigator);
      navigator.sendBeacon = (url, data) => {
        const sent = send(url, data);
        if (sent) localStorage.setItem('beacons', String(Number(localStorage.getItem('beacons') || 0) + 1));
        return sent;
      };
    })()`);
    const page = await context.newPage();
    await page.goto(`${origin}/`);
    // The first batch (page view and the queued lead) goes out by fetch and brings back the visitor cookie.
    expect(await eventsOf(tagId, 2)).toHaveLength(2);

    // Page code runs in the browser: given as source text, as a page's own script would be.
    await page.evaluate("history.pushState({}, '', '/product?id=7')");
    await page.evaluate("mtag('track', 'purchase', { value: 49.9, currency: 'eur', orderId: 'A-1' })");
    await page.evaluate('history.back()');
    await page.waitForURL(`${origin}/`);
    // Leaving the page sends what is buffered with sendBeacon.
    await page.goto(`${origin}/second`);
    // Closed at once: its page view, still in the 1-second batch, can only leave by the pagehide beacon.
    await page.close({ runBeforeUnload: true });

    const events = await eventsOf(tagId, 6);
    expect(events.map((e) => [e.type, new URL(e.url).pathname + new URL(e.url).search])).toEqual([
      ['page_view', '/'],
      ['lead', '/'],
      ['page_view', '/product?id=7'],
      ['purchase', '/product?id=7'],
      ['page_view', '/'],
      ['page_view', '/second'],
    ]);
    const purchase = events[3];
    expect(Number(purchase?.value)).toBe(49.9);
    expect(purchase?.currency).toBe('EUR');
    expect(purchase?.properties).toEqual({ orderId: 'A-1' });
    expect(events[1]?.properties).toEqual({ source: 'stub' });
    expect(events[2]?.referrer).toBe(`${origin}/`);
    // One visitor throughout (the cookie survived the page load), one session, a parsed device.
    expect(new Set(events.map((e) => e.visitor_id)).size).toBe(1);
    expect(new Set(events.map((e) => e.session_id)).size).toBe(1);
    expect(events[0]?.session_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(events[0]?.device_browser).toBe('Chrome');
    const after = await context.newPage();
    await after.goto(`${origin}/blank`);
    expect(await after.evaluate("localStorage.getItem('beacons')")).toBe('2');
    await context.close();
    // Stored once each.
    const [row] = await queryRows<{ count: number }>(ctx.database, sql`select count(*)::int as count from events where tag_id = ${tagId}`);
    expect(row?.count).toBe(6);
  }, 60_000);

  it('sends a batch answered 503 again, with the same event ids, until it is stored', async () => {
    // A second collector on the same database whose first write fails.
    const flakyPort = await freePort();
    const flaky = await createTestApp(
      { MARKTAG_PUBLIC_URL: `http://localhost:${flakyPort}` },
      { database: withFault(await testDatabase(), { kind: 'batch-write-fails', times: 1 }) },
    );
    await flaky.app.listen({ port: flakyPort, host: '127.0.0.1' });
    try {
      const { tagId } = await tagWithSnippet();
      const snippet = (await flaky.app.inject({ method: 'GET', url: `/v1/partners/marktag/${tagId}`, headers: bearer(token) })).json<TagDetails>().snippet;
      pages.set('/retry', `<!doctype html><title>Retry</title>${snippet}<h1>Retry</h1>`);
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(`http://${site}:${sitePort}/retry`);
      const events = await eventsOf(tagId, 1, 15_000);
      expect(events.map((e) => e.type)).toEqual(['page_view']);
      expect(flaky.app.services.events.stats.failures).toBe(1);
      await context.close();
    } finally {
      await flaky.app.close();
    }
  }, 60_000);

  /** A page of the site with the snippet (and `body` after it), opened in a fresh context; its warnings and uncaught errors are kept. */
  async function openSitePage(path: string, body = ''): Promise<{ tagId: string; page: Page; warnings: string[]; errors: string[]; close: () => Promise<void> }> {
    const { tagId, snippet } = await tagWithSnippet();
    pages.set(path, `<!doctype html><title>${path}</title>${snippet}${body}`);
    const context = await browser.newContext();
    const page = await context.newPage();
    const warnings: string[] = [];
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'warning') warnings.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`http://${site}:${sitePort}${path}`);
    await page.waitForFunction('window.mtag && window.mtag.loaded === true');
    return { tagId, page, warnings, errors, close: () => context.close() };
  }

  /** Everything the tag stored up to a final `done` event, sent last and flushed: what was not stored by then never will be. */
  async function storedUntilDone(page: Page, tagId: string): Promise<StoredEvent[]> {
    await page.evaluate("mtag('track', 'done'); mtag('flush')");
    const deadline = Date.now() + 10_000;
    for (;;) {
      const rows = await queryRows<StoredEvent>(ctx.database, sql`select * from events where tag_id = ${tagId} order by timestamp, id`);
      if (rows.some((row) => row.type === 'done') || Date.now() > deadline) return rows.filter((row) => row.type !== 'done');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  const pathOf = (event: StoredEvent) => new URL(event.url).pathname + new URL(event.url).search;

  it('drops an event with a bad type, with a warning naming the call, and stores the page view and good events of the same batch', async () => {
    // Queued before mtag.js loads: the first batch holds the page view, the bad call and the good one.
    const opened = await openSitePage('/bad-type', "<script>mtag('track', 'Add To Cart', { sku: 'A' }); mtag('track', 'add_to_cart', { sku: 'A' })</script>");
    await opened.page.evaluate("mtag('track', 'purchase', { value: 10, currency: 'EUR' }); mtag('track', 'Purchase!'); mtag('track', 'x'.repeat(65))");
    const events = await storedUntilDone(opened.page, opened.tagId);
    expect(events.map((e) => e.type)).toEqual(['page_view', 'add_to_cart', 'purchase']);
    expect(events[1]?.properties).toEqual({ sku: 'A' });
    expect(opened.warnings).toHaveLength(3);
    expect(opened.warnings[0]).toBe(`mtag: mtag('track', "Add To Cart") dropped: type must be lower-case letters, digits and underscores, starting with a letter (at most 64)`);
    expect(opened.warnings[1]).toContain(`mtag('track', "Purchase!") dropped: type must be`);
    expect(opened.errors).toEqual([]);
    await opened.close();
  }, 60_000);

  it('drops an event with a bad currency or value, with a warning, and keeps the rest', async () => {
    const opened = await openSitePage('/bad-currency');
    await opened.page.evaluate(`
      mtag('track', 'purchase', { value: 5, currency: 'EURO' });
      mtag('track', 'purchase', { value: 5, currency: 'E1R' });
      mtag('track', 'purchase', { value: 5, currency: 978 });
      mtag('track', 'purchase', { value: -1, currency: 'EUR' });
      mtag('track', 'purchase', { value: '5', currency: 'EUR' });
      mtag('track', 'purchase', { value: 2e12, currency: 'EUR' });
      mtag('track', 'purchase', { value: 5, currency: 'usd', orderId: 'B-2' });
    `);
    const events = await storedUntilDone(opened.page, opened.tagId);
    expect(events.map((e) => [e.type, e.currency, e.value === null ? null : Number(e.value)])).toEqual([
      ['page_view', null, null],
      ['purchase', 'USD', 5],
    ]);
    expect(events[1]?.properties).toEqual({ orderId: 'B-2' });
    expect(opened.warnings).toHaveLength(6);
    expect(opened.warnings[0]).toBe(`mtag: mtag('track', "purchase") dropped: currency must be three upper-case letters (ISO 4217)`);
    expect(opened.warnings[3]).toBe(`mtag: mtag('track', "purchase") dropped: value must be a number from 0 to 1000000000000`);
    await opened.close();
  }, 60_000);

  it('never throws into the page, whatever it is passed: null data is no data, unusable data is dropped with a warning', async () => {
    // Queued before load too: the stub replays them inside mtag.js.
    const opened = await openSitePage('/hostile', "<script>mtag('track', 'lead', null); mtag(null); mtag('track', 7)</script>");
    // Each call from its own task, as a page's own code would make it: anything thrown would be an uncaught page error.
    await opened.page.evaluate(`(() => {
      const circular = { a: 1 };
      circular.self = circular;
      const calls = [
        () => mtag('track', 'sign_up', null),
        () => mtag('track', 'lead', 5),
        () => mtag('track', 'lead', 'text'),
        () => mtag('track', 'lead', [1, 2]),
        () => mtag('track', 42),
        () => mtag('track'),
        () => mtag(),
        () => mtag({}),
        () => mtag('track', 'lead', { get value() { throw new Error('getter') } }),
        () => mtag('track', 'lead', { get orderId() { throw new Error('getter') } }),
        () => mtag('track', 'lead', circular),
        () => mtag('track', 'lead', { big: 10n }),
        () => mtag('track', 'lead', { note: 'a\\u0000b' }),
        () => mtag('track', 'lead', Object.fromEntries(Array.from({ length: 51 }, (_, i) => ['k' + i, i]))),
        () => mtag('track', 'lead', { blob: 'x'.repeat(5000) }),
        () => mtag('track', 'lead', new Proxy({}, { ownKeys() { throw new Error('proxy') } })),
        () => mtag('track', { toString() { throw new Error('toString') } }),
        () => mtag('track', 'subscribe', { plan: 'pro', nested: { deep: [1, { two: 2 }] } }),
      ];
      for (const call of calls) setTimeout(call, 0);
    })()`);
    await opened.page.waitForTimeout(100);
    const events = await storedUntilDone(opened.page, opened.tagId);
    expect(opened.errors).toEqual([]);
    expect(events.map((e) => [e.type, e.properties])).toEqual([
      ['page_view', null],
      ['lead', null],
      ['sign_up', null],
      ['subscribe', { plan: 'pro', nested: { deep: [1, { two: 2 }] } }],
    ]);
    // Every other call (2 queued, 16 made later) was refused with a warning of its own.
    expect(opened.warnings).toHaveLength(18);
    expect(opened.warnings).toContain(`mtag: mtag('track', "lead") dropped: its data cannot be read as JSON`);
    expect(opened.warnings).toContain(`mtag: mtag('track', "lead") dropped: properties must have at most 50 keys`);
    expect(opened.warnings).toContain(`mtag: mtag('track', "lead") dropped: properties must be at most 4096 bytes of JSON`);
    expect(opened.warnings).toContain(`mtag: mtag('track', "lead") dropped: properties must not contain NUL characters`);
    expect(opened.warnings).toContain(`mtag: mtag('track', number) dropped: type must be lower-case letters, digits and underscores, starting with a letter (at most 64)`);
    await opened.close();
  }, 60_000);

  it('splits what it sends into requests within the collector’s 64 KiB, so large events are not refused together', async () => {
    // About 7.9 KB an event (a 2,048-character URL, a 512-character title of 3-byte characters, 4,086 bytes of
    // properties): the first ten events, sent together when the tenth comes, would be 67 KB in one request.
    const opened = await openSitePage('/big');
    await opened.page.evaluate(`
      document.title = '€'.repeat(512);
      history.pushState({}, '', '/big?q=' + 'x'.repeat(2040));
      for (let i = 0; i < 10; i++) mtag('track', 'add_to_cart', { i, note: 'n'.repeat(4070) });
      mtag('flush');
    `);
    // Two requests in flight at once, each within the limit (waiting for all: a request the browser refused at once is retried).
    const events = await eventsOf(opened.tagId, 12, 15_000);
    // The two requests are stored in whichever order they arrive: every event once is what counts.
    expect(events.filter((e) => e.type === 'page_view')).toHaveLength(2);
    const carts = events.filter((e) => e.type === 'add_to_cart').map((e) => Number(e.properties?.i));
    expect(carts.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(opened.warnings).toEqual([]);
    await opened.close();
  }, 60_000);

  it('does not count an in-page anchor click or a hash change as a page view', async () => {
    const opened = await openSitePage('/article', '<p><a id="jump" href="#comments">Comments</a></p><div style="height: 3000px"></div><h2 id="comments">Comments</h2>');
    await opened.page.click('#jump');
    await opened.page.waitForURL(/#comments$/);
    await opened.page.evaluate("location.hash = 'top'");
    await opened.page.evaluate("history.pushState({}, '', '#section-2')");
    await opened.page.evaluate("history.replaceState({}, '', location.pathname + '#section-3')");
    await opened.page.evaluate('history.back()');
    await opened.page.waitForURL(/#top$/);
    const events = await storedUntilDone(opened.page, opened.tagId);
    expect(events.map((e) => [e.type, pathOf(e)])).toEqual([['page_view', '/article']]);
    await opened.close();
  }, 60_000);

  it('counts a pushState to a new path and to a new search as page views, with the previous URL as referrer', async () => {
    const opened = await openSitePage('/catalog');
    await opened.page.evaluate("history.pushState({}, '', '/catalog/shoes')");
    await opened.page.evaluate("history.pushState({}, '', '/catalog/shoes?page=2')");
    await opened.page.evaluate("history.pushState({}, '', '/catalog/shoes?page=2#reviews')");
    await opened.page.evaluate("history.replaceState({}, '', '/catalog/shoes?page=3')");
    const events = await storedUntilDone(opened.page, opened.tagId);
    const origin = `http://${site}:${sitePort}`;
    expect(events.map((e) => [e.type, pathOf(e), e.referrer])).toEqual([
      ['page_view', '/catalog', null],
      ['page_view', '/catalog/shoes', `${origin}/catalog`],
      ['page_view', '/catalog/shoes?page=2', `${origin}/catalog/shoes`],
      // A referrer is stored as origin and path.
      ['page_view', '/catalog/shoes?page=3', `${origin}/catalog/shoes`],
    ]);
    await opened.close();
  }, 60_000);

  it('sends nothing without consent or with Global Privacy Control', async () => {
    const refused = await tagWithSnippet();
    pages.set('/no-consent', `<!doctype html>${refused.snippet}<script>mtag('consent', false); mtag('track', 'lead')</script>`);
    const gpc = await tagWithSnippet();
    pages.set('/gpc', `<!doctype html>${gpc.snippet}`);

    const context = await browser.newContext();
    await context.addInitScript(
      "if (location.pathname === '/gpc') Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true })",
    );
    for (const path of ['/no-consent', '/gpc']) {
      const page = await context.newPage();
      await page.goto(`http://${site}:${sitePort}${path}`);
      await page.waitForTimeout(1500);
      await page.close({ runBeforeUnload: true });
    }
    await context.close();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await eventsOf(refused.tagId, 1, 0)).toEqual([]);
    expect(await eventsOf(gpc.tagId, 1, 0)).toEqual([]);
  }, 60_000);
});
