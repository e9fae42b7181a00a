/**
 * The MarkTag tracker. Loaded from the tag host with
 *   <script>window.mtag=window.mtag||function(){(mtag.q=mtag.q||[]).push(arguments)}</script>
 *   <script async src="https://<tracking host>/mtag.js" data-tag-id="<tagId>"></script>
 * No dependencies; kept small (the build fails above 3 KB gzipped). Nothing a page passes in makes it throw.
 *
 * Commands:
 *   mtag('track', type, { value, currency, ...properties })
 *   mtag('identify', userId, { email?, phone? })  sends an `identify` event; the request carrying it has
 *       `userId` and `user: { email, phone }` at its top level. Every later event from the browser carries
 *       `userId` (kept in localStorage as mtag_uid). Email and phone are never stored in the browser: they
 *       travel on that request only (a copy of it sent again from the next page has the userId alone).
 *       A number is taken as its decimal string.
 *   mtag('reset')        forgets the userId and the session (the next event starts a new one). The
 *       visitor is the collector's HttpOnly first-party cookie: the tracker cannot read or clear it, so
 *       the browser stays the same visitor.
 *   mtag('consent', false | true)  false (or Global Privacy Control) sends nothing more, and forgets the
 *       userId, the session and the events not yet sent.
 *   mtag('flush')        sends what is waiting now.
 *
 * Automatic events: a page_view on load and on each single-page navigation (a new path or query string;
 * with `data-hash-routing` on the script tag, a new hash too), and clicks on links: `file_download` for a
 * link with a `download` attribute or to a file (pdf, docx, zip, mp4...), else `outbound_click` for an
 * http(s) link off the site, both with `properties.href`. The site is the domain the tag host is named in
 * (mtag.<site>), with all its subdomains; when the script comes from elsewhere, the page's host without
 * "www." and its subdomains. `data-auto` lists what is automatic: "pageviews", "clicks" (both when absent),
 * so `data-auto="pageviews"` tracks no clicks.
 *
 * Delivery: events wait up to 1 s (10 at most) and go out by fetch (keepalive), at once after a tracked
 * click, by sendBeacon when the page is hidden or left. An event the collector would refuse (its rules are
 * shared with it) is dropped with a console warning, so that one bad call never costs the batch it would
 * share with good events. Every event is kept in sessionStorage (mtag_q) until a fetch carrying it is
 * answered: 2xx or another 4xx forgets it (a 400 is not retried), 429 and 5xx or no network send it
 * again after Retry-After seconds (1, 2, 4 s without one; then with the next batch). What a beacon or a
 * page left too early carried is sent again, same eventIds, from the next page: the collector stores an
 * eventId once.
 */

import { CURRENCY_PATTERN, EVENT_TYPE_PATTERN, LIMITS, RULE_MESSAGES, problemInStrings } from '../../src/modules/collect/event-rules.js';

interface TrackedEvent {
  eventId: string;
  type: string;
  timestamp: string;
  url: string;
  referrer?: string;
  title?: string;
  value?: number;
  currency?: string;
  properties?: Record<string, unknown>;
}

/** An event waiting for its acknowledgement. */
interface Pending {
  /** The event's JSON, as sent. */
  e: string;
  /** The JSON of its request's top level (tagId, sessionId, userId) as the event was tracked. */
  h: string;
  /** Email and phone of an identify event: in memory only. */
  t?: Record<string, string>;
  /** Waiting (undefined or 0), in a fetch (1), in a beacon (2: sent again by the next fetch). */
  s?: number;
}

interface MtagFunction {
  (...command: unknown[]): void;
  q?: ArrayLike<unknown>[];
  loaded?: boolean;
}

declare global {
  interface Window {
    mtag?: MtagFunction;
  }
  interface Navigator {
    globalPrivacyControl?: boolean;
  }
}

const BATCH_SIZE = 10;
const BATCH_DELAY_MS = 1000;
const SESSION_IDLE_MS = 30 * 60 * 1000;
const SESSION_KEY = 'mtag_session';
const QUEUE_KEY = 'mtag_q';
const USER_KEY = 'mtag_uid';
const MAX_TITLE = 512;
const RETRIES = 3;
/** Events a request carries at most; events kept unacknowledged at most (the oldest go first). */
const MAX_SENT = 50;
const MAX_KEPT = 200;
const TYPE = new RegExp(EVENT_TYPE_PATTERN);
const CURRENCY = new RegExp(CURRENCY_PATTERN);
const FILE = /\.(pdf|docx?|xlsx?|pptx?|csv|txt|rtf|zip|rar|7z|t?gz|tar|dmg|exe|msi|apk|mp[34]|wav|mov|avi)$/i;

const script = document.currentScript as HTMLScriptElement | null;
const tagId = script && script.getAttribute('data-tag-id');
const existing = window.mtag;

if (script && tagId && !(existing && existing.loaded)) {
  // The tag id in the URL too: a request the collector cannot read still counts in the tag's diagnostics.
  const endpoint = new URL('/v1/collect?t=' + tagId, script.src).href;
  const auto = script.getAttribute('data-auto');
  const on = (what: string): boolean => (auto || what).includes(what);
  const hashRouting = script.hasAttribute('data-hash-routing');
  let consent = navigator.globalPrivacyControl !== true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** The retry timer while one is set: nothing but a leaving page's beacon is sent before it. */
  let hold = 0;
  let fails = 0;
  let lastHref = location.href;
  const page = (): string => location.pathname + location.search + (hashRouting ? location.hash : '');
  let lastPage = page();

  const within = (host: string, domain: string): boolean => host === domain || host.endsWith(`.${domain}`);
  const host = location.hostname;
  const tagSite = new URL(script.src).hostname.replace(/^[^.]+\./, '');
  const site = tagSite.includes('.') && within(host, tagSite) ? tagSite : host.replace(/^www\./, '');

  /** A broken console must not break the page either. */
  const warn = (call: string, reason: string): void => {
    try {
      console.warn(`mtag: ${call} dropped: ${reason}`);
    } catch {
      // nothing left to tell
    }
  };
  const label = (value: unknown): string => (typeof value === 'string' ? JSON.stringify(value.slice(0, 100)) : typeof value);

  /** Reads a key (value undefined), writes it, or removes it (null): the user's of localStorage, the others of sessionStorage. Blocked storage is none. */
  const keep = (key: string, value?: string | null): string | null => {
    try {
      const storage = key === USER_KEY ? localStorage : sessionStorage;
      if (value === undefined) return storage.getItem(key);
      if (value === null) storage.removeItem(key);
      else storage.setItem(key, value);
    } catch {
      // storage blocked or full
    }
    return null;
  };

  let userId = keep(USER_KEY) || undefined;
  let queue: Pending[] = [];
  try {
    if (consent) queue = [...(JSON.parse(keep(QUEUE_KEY) || '[]') as Pending[])];
  } catch {
    // nothing readable kept
  }
  const save = (): void => {
    keep(QUEUE_KEY, queue.length ? JSON.stringify(queue, ['e', 'h']) : null);
  };

  /** UTF-8 bytes, as the collector counts them. */
  const bytes = (text: string): number => new Blob([text]).size;

  /** Text PostgreSQL can store (no NUL), cut to the collector's length. */
  const clean = (text: string, max: number): string => text.replace(/\0/g, '').slice(0, max);

  /** UUID v4 from getRandomValues: randomUUID exists only in secure contexts. */
  const uuid = (): string =>
    '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (c) => (+c ^ (crypto.getRandomValues(new Uint8Array(1))[0]! & (15 >> (+c / 4)))).toString(16));

  /** A session ends after 30 minutes without events; sessionStorage keeps it per tab. */
  const sessionId = (): string | undefined => {
    try {
      const now = Date.now();
      const stored = JSON.parse(sessionStorage.getItem(SESSION_KEY) || '{}') as { id: string; at: number };
      const id = now - stored.at < SESSION_IDLE_MS ? stored.id : uuid();
      sessionStorage.setItem(SESSION_KEY, JSON.stringify({ id, at: now }));
      return id;
    } catch {
      return undefined; // storage blocked: events still count, without a session
    }
  };

  /**
   * keepalive lets a request outlive the page, but browsers refuse one at once when the keepalive
   * bodies in flight would pass 64 KiB: beyond that, requests go without it.
   */
  let keptAlive = 0;
  const post = (body: string, batch: Pending[]): void => {
    const size = bytes(body);
    const keepalive = keptAlive + size <= LIMITS.bodyBytes;
    if (keepalive) keptAlive += size;
    // The collector stored nothing: the same events (same ids) go again, after Retry-After if it is given.
    const retry = (response?: Response): void => {
      for (const item of batch) item.s = 0;
      const after = response && response.headers.get('retry-after');
      if (fails++ < RETRIES) {
        hold = setTimeout(() => {
          hold = 0;
          flush();
        }, after && +after >= 0 ? +after * 1000 : 500 * 2 ** fails);
      }
    };
    // A string body is text/plain: no CORS preflight.
    fetch(endpoint, { method: 'POST', body, keepalive, credentials: 'include' })
      .then((response) => {
        if (response.status === 429 || response.status > 499) return retry(response);
        // Stored, or refused for good (a 400: sending it again would be refused again).
        fails = 0;
        queue = queue.filter((item) => !batch.includes(item));
        save();
      }, () => retry())
      .finally(() => {
        if (keepalive) keptAlive -= size;
      });
  };

  /**
   * A visible page sends with fetch, which sees the answer; a page going away sends with sendBeacon,
   * which the browser delivers after the page is gone (fetch keepalive if it refuses). One request has
   * one top level (session, user) and stays within the collector's event count and body size.
   */
  const flush = (leaving?: boolean): void => {
    if (hold && !leaving) return;
    clearTimeout(timer);
    timer = undefined;
    for (;;) {
      const todo = queue.filter((item) => !item.s || (item.s > 1 && !leaving));
      const first = todo[0];
      if (!first) return;
      const head = `${first.h.slice(0, -1)}${first.t ? `,"user":${JSON.stringify(first.t)}` : ''},"events":[`;
      const batch: Pending[] = [];
      let size = bytes(head) + 2;
      for (const item of todo) {
        size += bytes(item.e) + 1;
        if (batch.length && (item.h !== first.h || item.t || batch.length >= MAX_SENT || size > LIMITS.bodyBytes)) break;
        batch.push(item);
      }
      const body = `${head}${batch.map((item) => item.e).join()}]}`;
      const beaconed = leaving && navigator.sendBeacon(endpoint, body);
      for (const item of batch) item.s = beaconed ? 2 : 1;
      if (!beaconed) post(body, batch);
    }
  };

  /** The event as the collector accepts it, or why it would refuse it. May throw on hostile data (getters, cycles). */
  const eventOf = (type: unknown, data: unknown, referrer: string): TrackedEvent | string => {
    if (typeof type !== 'string' || !TYPE.test(type)) return `type ${RULE_MESSAGES.type}`;
    if (data != null && (typeof data !== 'object' || Array.isArray(data))) return 'data must be an object';
    const { value, currency, ...rest } = (data || {}) as Record<string, unknown>;
    const event: TrackedEvent = { eventId: uuid(), type, timestamp: new Date().toISOString(), url: clean(location.href, LIMITS.url) };
    if (referrer) event.referrer = clean(referrer, LIMITS.url);
    if (document.title) event.title = clean(document.title, MAX_TITLE);
    if (value != null) {
      if (typeof value !== 'number' || !(value >= 0 && value <= LIMITS.value)) return `value must be a number from 0 to ${LIMITS.value}`;
      event.value = value;
    }
    if (currency != null) {
      const code = typeof currency === 'string' ? currency.toUpperCase() : '';
      if (!CURRENCY.test(code)) return `currency ${RULE_MESSAGES.currency}`;
      event.currency = code;
    }
    // What JSON keeps of the properties is what is sent, and what the collector measures.
    const json = JSON.stringify(rest);
    const properties = JSON.parse(json) as Record<string, unknown>;
    const keys = Object.keys(properties).length;
    if (keys > LIMITS.propertiesKeys) return `properties must have at most ${LIMITS.propertiesKeys} keys`;
    if (bytes(json) > LIMITS.propertiesBytes) return `properties must be at most ${LIMITS.propertiesBytes} bytes of JSON`;
    const problem = problemInStrings(properties);
    if (problem) return `properties ${problem}`;
    if (keys > 0) event.properties = properties;
    return event;
  };

  const send = (type: unknown, data?: unknown, referrer = document.referrer, traits?: Record<string, string>): void => {
    if (!consent) return;
    let event: TrackedEvent | string;
    try {
      event = eventOf(type, data, referrer);
    } catch {
      event = 'its data cannot be read as JSON';
    }
    if (typeof event === 'string') return warn(`mtag('track', ${label(type)})`, event);
    queue.push({ e: JSON.stringify(event), h: JSON.stringify({ tagId, sessionId: sessionId(), userId }), t: traits });
    if (queue.length > MAX_KEPT) queue.shift();
    save();
    if (queue.filter((item) => !item.s).length >= BATCH_SIZE) flush();
    else timer ||= setTimeout(flush, BATCH_DELAY_MS);
  };

  /** The userId, email and phone as the collector accepts them, then the identify event. */
  const identify = (id: unknown, data: unknown): void => {
    if (!consent) return;
    const given = (data || {}) as Record<string, unknown>;
    const traits: Record<string, string> = {};
    const fields: [string, unknown, number][] = [['userId', typeof id === 'number' ? String(id) : id, 128], ['email', given.email, 254], ['phone', given.phone, 32]];
    for (const [key, value, max] of fields) {
      if (value == null || value === '') {
        if (key === 'userId') return warn(`mtag('identify', ${label(id)})`, 'userId is missing');
      } else if (typeof value !== 'string' || value.length > max || problemInStrings(value)) {
        return warn(`mtag('identify', ${label(id)})`, `${key} must be a string of at most ${max} characters`);
      } else traits[key] = value;
    }
    const { userId: user, ...rest } = traits;
    keep(USER_KEY, (userId = user));
    send('identify', null, undefined, Object.keys(rest).length ? rest : undefined);
  };

  /** The user and the session are forgotten: the next event starts a new session, without userId. */
  const reset = (): void => {
    userId = undefined;
    keep(USER_KEY, null);
    keep(SESSION_KEY, null);
  };

  /** A new page is a new path or query string (or hash, with hash routing): an in-page anchor is not one. */
  const pageView = (): void => {
    const from = lastHref;
    lastHref = location.href;
    if (page() === lastPage) return;
    lastPage = page();
    send('page_view', null, from);
  };

  const mtag: MtagFunction = (...command: unknown[]) => {
    try {
      const [name, first, second] = command;
      if (name === 'track') send(first, second);
      else if (name === 'identify') identify(first, second);
      else if (name === 'reset') reset();
      else if (name === 'consent') {
        consent = first === true && navigator.globalPrivacyControl !== true;
        if (!consent) {
          queue = [];
          save();
          reset();
        }
      } else if (name === 'flush') flush();
      else warn(`mtag(${label(name)})`, 'unknown command');
    } catch {
      // Never into the page.
    }
  };
  mtag.loaded = true;

  if (on('pageviews')) {
    for (const method of ['pushState', 'replaceState'] as const) {
      const original = history[method].bind(history);
      history[method] = (...args: Parameters<History['pushState']>) => {
        original(...args);
        pageView();
      };
    }
    addEventListener('popstate', pageView);
    addEventListener('hashchange', pageView);
  }

  // Captured before the page's own handlers; sent at once, so that the navigation it starts does not lose it.
  const click = (event: MouseEvent): void => {
    try {
      const link = (event.target as Element).closest<HTMLAnchorElement>('a,area');
      if (!link || event.button > 1) return;
      const url = new URL(link.href);
      const type = link.hasAttribute('download') || FILE.test(url.pathname)
        ? 'file_download'
        : /^https?:$/.test(url.protocol) && !within(url.hostname, site) ? 'outbound_click' : '';
      if (type) {
        send(type, { href: clean(url.href, LIMITS.url) });
        flush();
      }
    } catch {
      // not a link we can read
    }
  };
  if (on('clicks')) for (const type of ['click', 'auxclick'] as const) document.addEventListener(type, click, true);

  addEventListener('pagehide', () => flush(true));
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) flush(true);
  });

  // Calls made before the script loaded: consent applies first, then who the user is, then the page view; events follow it.
  window.mtag = mtag;
  let queued: unknown[][] = [];
  try {
    queued = Array.from((existing && existing.q) || [], (args) => Array.from(args));
  } catch {
    // a page's own mtag.q that is not a list of calls: nothing to replay
  }
  const early = ([name]: unknown[]): boolean => ['consent', 'identify', 'reset'].includes(name as string);
  for (const command of queued) if (early(command)) mtag(...command);
  if (on('pageviews')) send('page_view');
  for (const command of queued) if (!early(command)) mtag(...command);
  // Events kept by an earlier page and not acknowledged go with the first batch.
  if (queue.length) timer ||= setTimeout(flush, BATCH_DELAY_MS);
}

export {};
