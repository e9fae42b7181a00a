import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'drizzle-orm';
import { type Browser, type BrowserContext, type Page, type Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CollectBody } from '../../src/modules/collect/schemas.js';
import type { GenerateResponse, TagDetails } from '../../src/modules/marktags/schemas.js';
import { haveBrowser, launchTrackerBrowser } from '../helpers/browser.js';
import { bearer, createTestApp, type TestContext } from '../helpers/app.js';
import { queryRows } from '../helpers/database.js';
import { createMerchant, createPartner } from '../helpers/factories.js';
import { freePort } from '../helpers/process.js';

/**
 * The tracker's identify/reset, automatic click events, hash routing and delivery (refusals, retries,
 * events kept across a navigation) in Debian's chromium, as in tracker.test.ts: a merchant page on its
 * own hostname loads mtag.js from the tag host, both mapped to loopback. What the tracker sends is read
 * from the requests the page makes; what the collector kept, from the database.
 */
/** A site that is not the merchant's: its pages are answered by the browser context's route. */
const ELSEWHERE = 'elsewhere.example';

interface StoredEvent {
  event_id: string;
  type: string;
  url: string;
  referrer: string | null;
  visitor_id: string;
  session_id: string | null;
  properties: Record<string, unknown> | null;
}

/** A request to the collector, as the page sent it. */
interface Sent {
  at: number;
  body: CollectBody;
}

const typesOf = (sent: Sent): string[] => sent.body.events.map((event) => event.type);
const idsOf = (sent: Sent): string[] => sent.body.events.map((event) => event.eventId ?? '');
/** The tracker's collect requests (it names its tag in the query too). */
const isCollect = (url: URL): boolean => url.pathname === '/v1/collect';
const bodyOf = (postData: string | null): CollectBody => JSON.parse(postData ?? 'null') as CollectBody;

describe.skipIf(!haveBrowser)('the tracker in Chromium: identify, clicks, hash routing, delivery', () => {
  const partnerDomain = `e2f${randomUUID().slice(0, 8)}.test`;
  const site = `shop.${partnerDomain}`;
  let ctx: TestContext;
  let browser: Browser;
  let siteServer: Server;
  let sitePort: number;
  let origin: string;
  let partnerToken: string | undefined;
  const pages = new Map<string, string>();

  beforeAll(async () => {
    const apiPort = await freePort();
    ctx = await createTestApp({ MARKTAG_PUBLIC_URL: `http://localhost:${apiPort}` });
    await ctx.app.listen({ port: apiPort, host: '127.0.0.1' });

    // Pages of the merchant site; /files/… and /nowhere/… answer 204, so a click on a link to them leaves the page where it is.
    siteServer = createServer((request, response) => {
      const path = (request.url ?? '/').split('?')[0] ?? '/';
      if (/^\/(files|nowhere)\//.test(path)) return void response.writeHead(204).end();
      const page = pages.get(path);
      response.writeHead(page ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' });
      response.end(page ?? 'not found');
    });
    await new Promise<void>((resolve) => siteServer.listen(0, '127.0.0.1', resolve));
    sitePort = (siteServer.address() as AddressInfo).port;
    origin = `http://${site}:${sitePort}`;

    browser = await launchTrackerBrowser(partnerDomain);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => siteServer?.close(resolve));
    await ctx?.app.close();
  });

  async function tagWithSnippet(): Promise<{ tagId: string; snippet: string }> {
    partnerToken ??= (await createPartner(ctx.app, { domain: partnerDomain })).token;
    const merchantId = await createMerchant(ctx.app, partnerToken);
    const generated = await ctx.app.inject({ method: 'POST', url: '/v1/partners/marktag/generate', headers: bearer(partnerToken), payload: { merchantId, domain: site } });
    const { tagId } = generated.json<GenerateResponse>();
    const details = await ctx.app.inject({ method: 'GET', url: `/v1/partners/marktag/${tagId}`, headers: bearer(partnerToken) });
    return { tagId, snippet: details.json<TagDetails>().snippet };
  }

  interface Opened {
    tagId: string;
    page: Page;
    context: BrowserContext;
    warnings: string[];
    errors: string[];
    /** Every request to the collector the page was seen making (fetch; a closing page's beacon is not seen). */
    sent: Sent[];
    /** Another page of the site with the same snippet. */
    addPage: (path: string, body?: string) => void;
    close: () => Promise<void>;
  }

  /**
   * A page of the site with the snippet (its script tag given `attributes`) and `body` after it, in a
   * fresh context prepared by `setup` (routes, init scripts) before the page opens.
   */
  async function openSitePage(
    path: string,
    options: { attributes?: string; body?: string; setup?: (context: BrowserContext) => Promise<unknown> } = {},
  ): Promise<Opened> {
    const { tagId, snippet } = await tagWithSnippet();
    const tagged = options.attributes ? snippet.replace('<script async ', `<script async ${options.attributes} `) : snippet;
    expect(tagged).toContain(options.attributes ?? '<script');
    const addPage = (pagePath: string, body = ''): void => void pages.set(pagePath, `<!doctype html><title>${pagePath}</title>${tagged}${body}`);
    addPage(path, options.body);
    const context = await browser.newContext();
    await options.setup?.(context);
    const page = await context.newPage();
    const warnings: string[] = [];
    const errors: string[] = [];
    const sent: Sent[] = [];
    page.on('console', (message) => {
      if (message.type() === 'warning') warnings.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('request', (request) => {
      if (request.method() === 'POST' && new URL(request.url()).pathname === '/v1/collect') sent.push({ at: Date.now(), body: bodyOf(request.postData()) });
    });
    await page.goto(`${origin}${path}`);
    await page.waitForFunction('window.mtag && window.mtag.loaded === true');
    return { tagId, page, context, warnings, errors, sent, addPage, close: () => context.close() };
  }

  async function goTo(page: Page, path: string): Promise<void> {
    await page.goto(`${origin}${path}`);
    await page.waitForFunction('window.mtag && window.mtag.loaded === true');
  }

  async function storedEvents(tagId: string): Promise<StoredEvent[]> {
    return queryRows<StoredEvent>(ctx.database, sql`select * from events where tag_id = ${tagId} order by timestamp, id`);
  }

  async function eventsOf(tagId: string, count: number, timeoutMs = 10_000): Promise<StoredEvent[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rows = await storedEvents(tagId);
      if (rows.length >= count || Date.now() > deadline) return rows;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Everything the tag stored up to a final `done` event, sent last and flushed. */
  async function storedUntilDone(page: Page, tagId: string): Promise<StoredEvent[]> {
    await page.evaluate("mtag('track', 'done'); mtag('flush')");
    const deadline = Date.now() + 10_000;
    for (;;) {
      const rows = await storedEvents(tagId);
      if (rows.some((row) => row.type === 'done') || Date.now() > deadline) return rows.filter((row) => row.type !== 'done');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Waits until a request carrying an event of `type` was made; returns it. */
  async function sentWith(sent: Sent[], type: string, timeoutMs = 10_000): Promise<Sent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = sent.find((request) => typesOf(request).includes(type));
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no request carried ${type}: ${JSON.stringify(sent.map(typesOf))}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Everything the page tracked is acknowledged: nothing is kept waiting in sessionStorage. */
  const acknowledged = (page: Page) => page.waitForFunction("!sessionStorage.getItem('mtag_q')", undefined, { timeout: 10_000 });

  const pathOf = (event: { url: string }) => {
    const url = new URL(event.url);
    return url.pathname + url.search + url.hash;
  };

  /** The events the page sent (each once, whatever the replays), but the final `done`, checked to be stored: by their event ids. */
  async function sentAndStored(sent: Sent[], stored: StoredEvent[]): Promise<CollectBody['events']> {
    const events = [...new Map(sent.flatMap((one) => one.body.events).map((event) => [event.eventId, event])).values()].filter((event) => event.type !== 'done');
    expect(stored.map((row) => row.event_id)).toEqual(events.map((event) => event.eventId));
    return events;
  }

  /** An answer of the collector, forced: with the CORS headers the collector sends, so that the page can read it. */
  const answer = (route: Route, status: number, headers: Record<string, string> = {}) =>
    route.fulfill({
      status,
      contentType: 'application/json',
      headers: { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true', 'access-control-expose-headers': 'retry-after', ...headers },
      body: JSON.stringify({ error: { code: status === 400 ? 'VALIDATION_ERROR' : 'SERVICE_UNAVAILABLE', message: 'forced by the test', requestId: 'test' } }),
    });

  it('identify sends userId (and email and phone on its own request only), later events carry the userId until reset; consent false forgets it', async () => {
    const opened = await openSitePage('/account');
    const { page, sent, tagId } = opened;
    await page.evaluate("mtag('track', 'browse'); mtag('flush')");
    await sentWith(sent, 'browse');
    // Answered first: the answer brings the visitor cookie the later requests carry.
    await acknowledged(page);
    // What the browser keeps, read while the identify event waits to be sent (kept in sessionStorage until acknowledged).
    const kept = await page.evaluate(`
      mtag('identify', 'u-42', { email: ' Jane@Example.com ', phone: '+44 20 7946 0958' });
      mtag('track', 'add_to_cart', { sku: 'A' });
      const kept = JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage });
      mtag('flush');
      kept;
    `);
    // Only the userId is kept in the browser: never the email or the phone.
    expect(kept).toContain('"mtag_uid":"u-42"');
    expect(kept).toMatch(/type\W+identify/);
    expect(kept).not.toMatch(/jane|example\.com|7946|\+44/i);
    await sentWith(sent, 'add_to_cart');
    await acknowledged(page);
    expect(await page.evaluate("localStorage.getItem('mtag_uid')")).toBe('u-42');
    expect(await page.evaluate('JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage })')).not.toMatch(/jane|example\.com|7946/i);

    // The next page of the site: its page view and events carry the userId kept in localStorage.
    opened.addPage('/account/orders');
    await goTo(page, '/account/orders');
    await page.evaluate("mtag('track', 'view_orders'); mtag('flush')");
    await sentWith(sent, 'view_orders');
    await acknowledged(page);
    await page.evaluate("mtag('reset'); mtag('track', 'signed_out'); mtag('flush')");
    await sentWith(sent, 'signed_out');
    await acknowledged(page);
    expect(await page.evaluate("localStorage.getItem('mtag_uid')")).toBeNull();

    const request = (type: string) => sent.find((one) => typesOf(one).includes(type))!;
    expect(request('browse').body.userId).toBeUndefined();
    const identified = request('identify');
    expect(identified.body.userId).toBe('u-42');
    expect(identified.body.user).toEqual({ email: ' Jane@Example.com ', phone: '+44 20 7946 0958' });
    expect(typesOf(identified)).toEqual(['identify', 'add_to_cart']);
    for (const type of ['view_orders', 'page_view']) expect(sent.filter((one) => typesOf(one).includes(type)).at(-1)?.body.userId).toBe('u-42');
    expect(sent.filter((one) => one.body.user !== undefined)).toEqual([identified]);
    const signedOut = request('signed_out');
    expect(signedOut.body.userId).toBeUndefined();
    // reset forgets the session too: the next event starts a new one.
    expect(signedOut.body.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(signedOut.body.sessionId).not.toBe(request('view_orders').body.sessionId);

    // consent false forgets the userId and the session as well.
    await page.evaluate("mtag('identify', 'u-43'); mtag('flush')");
    await acknowledged(page);
    expect(await page.evaluate("localStorage.getItem('mtag_uid')")).toBe('u-43');
    await page.evaluate("mtag('consent', false); mtag('track', 'not_sent'); mtag('consent', true); mtag('track', 'anonymous'); mtag('flush')");
    const anonymous = await sentWith(sent, 'anonymous');
    expect(anonymous.body.userId).toBeUndefined();
    expect(await page.evaluate("localStorage.getItem('mtag_uid')")).toBeNull();

    const events = await eventsOf(tagId, 9);
    expect(events.map((e) => [e.type, pathOf(e)])).toEqual([
      ['page_view', '/account'],
      ['browse', '/account'],
      ['identify', '/account'],
      ['add_to_cart', '/account'],
      ['page_view', '/account/orders'],
      ['view_orders', '/account/orders'],
      ['signed_out', '/account/orders'],
      ['identify', '/account/orders'],
      ['anonymous', '/account/orders'],
    ]);
    // One browser throughout: reset does not make it another visitor (the visitor cookie is the collector's).
    expect(new Set(events.map((e) => e.visitor_id)).size).toBe(1);
    expect(new Set(events.slice(0, 6).map((e) => e.session_id)).size).toBe(1);
    expect(events[6]?.session_id).not.toBe(events[5]?.session_id);
    expect(events[8]?.session_id).not.toBe(events[7]?.session_id);
    expect(opened.warnings).toEqual([]);
    await opened.close();
  }, 60_000);

  it('drops a bad identify or track call with a warning and sends the good events of the same batch', async () => {
    const opened = await openSitePage('/bad-calls');
    const { page, sent, tagId } = opened;
    await page.evaluate(`
      mtag('track', 'good_one');
      mtag('identify', '');
      mtag('identify', 'x'.repeat(129));
      mtag('identify', 'u-1', { email: 5 });
      mtag('identify', { id: 1 });
      mtag('identify', 'u-2', { phone: '0'.repeat(33) });
      mtag('track', 'purchase', { value: 5, currency: 'EURO' });
      mtag('track', 'good_two', { ok: true });
      mtag('flush');
    `);
    const batch = await sentWith(sent, 'good_one');
    // One request: the page view (still waiting when the calls were made) and the two good events.
    expect(typesOf(batch)).toEqual(['page_view', 'good_one', 'good_two']);
    expect(batch.body.userId).toBeUndefined();
    expect(batch.body.user).toBeUndefined();
    const events = await storedUntilDone(page, tagId);
    expect(events.map((e) => [e.type, e.properties])).toEqual([
      ['page_view', null],
      ['good_one', null],
      ['good_two', { ok: true }],
    ]);
    expect(opened.warnings).toEqual([
      `mtag: mtag('identify', "") dropped: userId is missing`,
      `mtag: mtag('identify', "${'x'.repeat(100)}") dropped: userId must be a string of at most 128 characters`,
      `mtag: mtag('identify', "u-1") dropped: email must be a string of at most 254 characters`,
      `mtag: mtag('identify', object) dropped: userId must be a string of at most 128 characters`,
      `mtag: mtag('identify', "u-2") dropped: phone must be a string of at most 32 characters`,
      `mtag: mtag('track', "purchase") dropped: currency must be three upper-case letters (ISO 4217)`,
    ]);
    expect(opened.errors).toEqual([]);
    expect(await page.evaluate("localStorage.getItem('mtag_uid')")).toBeNull();
    await opened.close();
  }, 60_000);

  const links = () => `
    <a id="same" href="/nowhere/a">same host</a>
    <a id="sub" href="http://blog.${partnerDomain}:${sitePort}/nowhere/b">subdomain of the site</a>
    <a id="anchor" href="#top">anchor</a>
    <a id="pdf" href="/files/report.pdf?v=2">report</a>
    <a id="zip" href="https://cdn.${ELSEWHERE}/app.ZIP">app</a>
    <a id="export" href="/nowhere/export" download>export</a>
    <a id="away" href="https://partner.${ELSEWHERE}/nowhere/deal">deal</a>
    <a id="out" href="https://${ELSEWHERE}/page?ref=shop"><span>elsewhere</span></a>`;

  /** Pages of the other site: 204 (the click leaves the page where it is) for /nowhere/… and files, a page otherwise. */
  const elsewhere = (context: BrowserContext) =>
    context.route(new RegExp(`^https://([a-z]+\\.)?${ELSEWHERE.replace('.', '\\.')}/`), (route) => {
      const { pathname } = new URL(route.request().url());
      if (pathname.startsWith('/nowhere/') || pathname.includes('.')) return route.fulfill({ status: 204 });
      return route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>Elsewhere</title>' });
    });

  it('sends outbound clicks and file downloads with their href, at the click, also when the click leaves the page', async () => {
    const opened = await openSitePage('/links', { body: links(), setup: elsewhere });
    const { page, sent, tagId } = opened;
    // Links on the site (its host and its subdomains) and anchors are not tracked.
    for (const id of ['same', 'sub', 'anchor', 'pdf', 'zip', 'export']) await page.click(`#${id}`);
    // A middle click (a new tab) counts too.
    const popup = opened.context.waitForEvent('page');
    await page.click('#away', { button: 'middle' });
    await (await popup).close();
    await page.click('#out span');
    await page.waitForURL(`https://${ELSEWHERE}/page?ref=shop`);

    const events = await eventsOf(tagId, 6);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await storedEvents(tagId)).map((e) => [e.type, e.properties])).toEqual([
      ['page_view', null],
      ['file_download', { href: `${origin}/files/report.pdf?v=2` }],
      ['file_download', { href: `https://cdn.${ELSEWHERE}/app.ZIP` }],
      ['file_download', { href: `${origin}/nowhere/export` }],
      ['outbound_click', { href: `https://partner.${ELSEWHERE}/nowhere/deal` }],
      ['outbound_click', { href: `https://${ELSEWHERE}/page?ref=shop` }],
    ]);
    expect(events.every((e) => pathOf(e) === '/links' || pathOf(e) === '/links#top')).toBe(true);
    // Sent by fetch at the click, before the page was left: not only by the leaving page's beacon.
    const outbound = await sentWith(sent, 'outbound_click');
    expect(typesOf(sent.find((one) => typesOf(one).includes('file_download'))!)).toContain('file_download');
    expect(sent.some((one) => typesOf(one).at(-1) === 'outbound_click' && one.body.events.at(-1)?.properties?.href === `https://${ELSEWHERE}/page?ref=shop`)).toBe(true);
    expect(outbound.body.events.at(-1)?.type).toBe('outbound_click');
    expect(opened.errors).toEqual([]);
    await opened.close();
  }, 60_000);

  it('tracks no clicks with data-auto="pageviews", and no page views with data-auto="clicks"', async () => {
    const quiet = await openSitePage('/quiet', { attributes: 'data-auto="pageviews"', body: links(), setup: elsewhere });
    for (const id of ['pdf', 'zip', 'export', 'away']) await quiet.page.click(`#${id}`);
    await quiet.page.evaluate("history.pushState({}, '', '/quiet/two')");
    const quietEvents = await storedUntilDone(quiet.page, quiet.tagId);
    expect(quietEvents.map((e) => [e.type, pathOf(e)])).toEqual([
      ['page_view', '/quiet'],
      ['page_view', '/quiet/two'],
    ]);
    expect(quiet.sent.flatMap(typesOf).filter((type) => type !== 'page_view' && type !== 'done')).toEqual([]);
    await quiet.close();

    const clicksOnly = await openSitePage('/clicks-only', { attributes: 'data-auto="clicks"', body: links(), setup: elsewhere });
    await clicksOnly.page.click('#pdf');
    await clicksOnly.page.evaluate("history.pushState({}, '', '/clicks-only/two')");
    const clickEvents = await storedUntilDone(clicksOnly.page, clicksOnly.tagId);
    expect(clickEvents.map((e) => [e.type, pathOf(e)])).toEqual([['file_download', '/clicks-only']]);
    await clicksOnly.close();
  }, 60_000);

  it('counts hash changes as page views with data-hash-routing, and only then', async () => {
    const routed = await openSitePage('/app', { attributes: 'data-hash-routing', body: '<a id="settings" href="#/settings">Settings</a>' });
    await routed.page.evaluate("location.hash = '/users'");
    await routed.page.waitForURL(/#\/users$/);
    await routed.page.click('#settings');
    await routed.page.waitForURL(/#\/settings$/);
    await routed.page.evaluate("history.pushState({}, '', '#/orders')");
    await routed.page.evaluate("history.replaceState({}, '', '#/orders')");
    await routed.page.evaluate('history.back()');
    await routed.page.waitForURL(/#\/settings$/);
    // The URLs as the tracker sends them (the collector may keep less of them).
    const events = await sentAndStored(routed.sent, await storedUntilDone(routed.page, routed.tagId));
    const app = `${origin}/app`;
    expect(events.map((e) => [e.type, pathOf(e), e.referrer ?? null])).toEqual([
      ['page_view', '/app', null],
      ['page_view', '/app#/users', app],
      ['page_view', '/app#/settings', `${app}#/users`],
      ['page_view', '/app#/orders', `${app}#/settings`],
      ['page_view', '/app#/settings', `${app}#/orders`],
    ]);
    await routed.close();

    // Without the attribute: an in-page anchor (a click, location.hash, pushState of a hash, back) is the same page; a new path is not.
    const plain = await openSitePage('/guide', { body: '<a id="jump" href="#install">Install</a><div style="height: 3000px"></div><h2 id="install">Install</h2>' });
    await plain.page.click('#jump');
    await plain.page.waitForURL(/#install$/);
    await plain.page.evaluate("location.hash = '/users'");
    await plain.page.evaluate("history.pushState({}, '', '#faq')");
    await plain.page.evaluate('history.back()');
    await plain.page.waitForURL(/#\/users$/);
    await plain.page.evaluate("history.pushState({}, '', '/guide/advanced#intro')");
    const plainEvents = await sentAndStored(plain.sent, await storedUntilDone(plain.page, plain.tagId));
    expect(plainEvents.map((e) => [e.type, pathOf(e)])).toEqual([
      ['page_view', '/guide'],
      ['page_view', '/guide/advanced#intro'],
    ]);
    await plain.close();
  }, 60_000);

  it('drops a batch the collector refuses with 400, without sending it again, and keeps sending the next ones', async () => {
    const attempts: Sent[] = [];
    const opened = await openSitePage('/refused', {
      setup: (context) =>
        context.route(isCollect, (route) => {
          attempts.push({ at: Date.now(), body: bodyOf(route.request().postData()) });
          return attempts.length === 1 ? answer(route, 400) : route.continue();
        }),
    });
    const { page, tagId } = opened;
    // The first batch (the page view) is refused.
    await page.evaluate("mtag('flush')");
    await expect.poll(() => attempts.length).toBe(1);
    const refused = idsOf(attempts[0]!);
    expect(typesOf(attempts[0]!)).toEqual(['page_view']);
    await acknowledged(page);
    // Longer than a retry would wait: none comes.
    await page.waitForTimeout(2500);
    expect(attempts).toHaveLength(1);
    await page.evaluate("mtag('track', 'after'); mtag('flush')");
    await acknowledged(page);
    // Nor is it sent again from the next page.
    opened.addPage('/refused/next');
    await goTo(page, '/refused/next');
    const events = await storedUntilDone(page, tagId);
    expect(events.map((e) => [e.type, pathOf(e)])).toEqual([
      ['after', '/refused'],
      ['page_view', '/refused/next'],
    ]);
    expect(attempts.filter((attempt) => idsOf(attempt).some((id) => refused.includes(id)))).toHaveLength(1);
    expect(opened.errors).toEqual([]);
    await opened.close();
  }, 60_000);

  it('sends a batch answered 503 or 429 again after Retry-After seconds, with the same event ids, stored once', async () => {
    const attempts: Sent[] = [];
    let refusedLead = false;
    const opened = await openSitePage('/busy', {
      setup: (context) =>
        context.route(isCollect, (route) => {
          const sent = { at: Date.now(), body: bodyOf(route.request().postData()) };
          attempts.push(sent);
          if (attempts.length === 1) return answer(route, 503, { 'retry-after': '1' });
          if (typesOf(sent).includes('lead') && !refusedLead) {
            refusedLead = true;
            return answer(route, 429, { 'retry-after': '2' });
          }
          return route.continue();
        }),
    });
    const { page, tagId } = opened;
    await expect.poll(() => attempts.length, { timeout: 10_000 }).toBe(2);
    expect(idsOf(attempts[1]!)).toEqual(idsOf(attempts[0]!));
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(950);
    expect(await eventsOf(tagId, 1)).toHaveLength(1);
    await acknowledged(page);

    // 429 with Retry-After: 2, longer than the tracker's own first wait (1 s): the retry waits for it.
    await page.evaluate("mtag('track', 'lead', { plan: 'pro' }); mtag('flush')");
    await expect.poll(() => attempts.length, { timeout: 10_000 }).toBe(4);
    expect(typesOf(attempts[2]!)).toEqual(['lead']);
    expect(idsOf(attempts[3]!)).toEqual(idsOf(attempts[2]!));
    expect(attempts[3]!.at - attempts[2]!.at).toBeGreaterThanOrEqual(1950);
    await acknowledged(page);
    const events = await storedUntilDone(page, tagId);
    expect(events.map((e) => e.type)).toEqual(['page_view', 'lead']);
    expect(new Set(events.map((e) => e.event_id))).toEqual(new Set([...idsOf(attempts[0]!), ...idsOf(attempts[2]!)]));
    await opened.close();
  }, 60_000);

  it('keeps the events a page could not deliver in sessionStorage and sends them from the next page, same event ids, stored once', async () => {
    // The collector does not answer while blocked: the page's requests hang.
    let blocked = true;
    const held: Route[] = [];
    const attempts: (Sent & { blocked: boolean })[] = [];
    const opened = await openSitePage('/step-1', {
      setup: (context) =>
        context.route(isCollect, (route) => {
          attempts.push({ at: Date.now(), body: bodyOf(route.request().postData()), blocked });
          if (blocked) held.push(route);
          else void route.continue();
        }),
    });
    const { page, tagId } = opened;
    await page.evaluate("mtag('track', 'add_to_cart', { sku: 'A' }); mtag('flush')");
    await expect.poll(() => attempts.length).toBe(1);
    const firstPage = idsOf(attempts[0]!);
    expect(typesOf(attempts[0]!)).toEqual(['page_view', 'add_to_cart']);
    // Kept until acknowledged: the stored copy holds the same events (ids).
    const kept = await page.evaluate("sessionStorage.getItem('mtag_q')");
    for (const id of firstPage) expect(kept).toContain(id);
    expect(await storedEvents(tagId)).toEqual([]);

    opened.addPage('/step-2');
    blocked = false;
    await goTo(page, '/step-2');
    const events = await eventsOf(tagId, 3);
    expect(events.map((e) => [e.type, pathOf(e)])).toEqual([
      ['page_view', '/step-1'],
      ['add_to_cart', '/step-1'],
      ['page_view', '/step-2'],
    ]);
    // Sent again from the second page, with the ids they had on the first.
    const resent = attempts.filter((attempt) => !attempt.blocked);
    expect(resent.flatMap(idsOf)).toEqual(expect.arrayContaining(firstPage));
    expect(events.slice(0, 2).map((e) => e.event_id)).toEqual(firstPage);
    await acknowledged(page);

    // The first page's request gets through at last: a replay, stored nothing twice.
    await Promise.allSettled(held.map((route) => route.continue()));
    await page.waitForTimeout(1000);
    const after = await storedEvents(tagId);
    expect(after).toHaveLength(3);
    expect(new Set(after.map((e) => e.event_id)).size).toBe(3);
    expect(opened.errors).toEqual([]);
    await opened.close();
  }, 60_000);
});
