import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GenerateResponse, TagDetails } from '../../src/modules/marktags/schemas.js';
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
const CHROMIUM = '/usr/bin/chromium';
const haveBrowser = existsSync(CHROMIUM);
if (!haveBrowser && process.env.CI) throw new Error(`${CHROMIUM} is missing: CI must install Debian's chromium (see .ci/run)`);
if (!haveBrowser) console.warn(`skipping the browser tests: ${CHROMIUM} is not installed (apt-get install chromium)`);

const DESKTOP_CHROME =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

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

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        `--host-resolver-rules=MAP *.${partnerDomain} 127.0.0.1`,
        // Every request, beacons of closing pages included, as a desktop browser (HeadlessChrome is a bot to isbot).
        `--user-agent=${DESKTOP_CHROME}`,
      ],
    });
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
