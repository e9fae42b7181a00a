/**
 * The MarkTag tracker. Loaded from the tag host with
 *   <script>window.mtag=window.mtag||function(){(mtag.q=mtag.q||[]).push(arguments)}</script>
 *   <script async src="https://<tracking host>/mtag.js" data-tag-id="<tagId>"></script>
 * it sends a page_view on load and on every single-page navigation, and exposes
 *   mtag('track', type, { value, currency, ...properties })  and  mtag('consent', false | true).
 * No dependencies; kept small (the build fails above 3 KB gzipped). An event the collector would
 * refuse (its rules are shared with it) is dropped with a console warning, so that one bad call
 * never costs the batch it would share with good events; nothing a page passes in makes it throw.
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
const MAX_TITLE = 512;
const RETRIES = 3;
/** Events a request carries at most, and its bytes beside the events (tag and session ids, keys). */
const MAX_SENT = 50;
const ENVELOPE_BYTES = 200;
const TYPE = new RegExp(EVENT_TYPE_PATTERN);
const CURRENCY = new RegExp(CURRENCY_PATTERN);

const script = document.currentScript as HTMLScriptElement | null;
const tagId = script?.getAttribute('data-tag-id');
const existing = window.mtag;

if (script && tagId && !existing?.loaded) {
  const endpoint = new URL('/v1/collect', script.src).href;
  let consent = navigator.globalPrivacyControl !== true;
  /** Events as the JSON they are sent as: their size is known before they are grouped into a request. */
  let buffer: string[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lastHref = location.href;
  const page = (): string => location.pathname + location.search;
  let lastPage = page();

  /** A broken console must not break the page either. */
  const warn = (call: string, reason: string): void => {
    try {
      console.warn(`mtag: ${call} dropped: ${reason}`);
    } catch {
      // nothing left to tell
    }
  };

  /** UTF-8 bytes, as the collector counts them. */
  const bytes = (text: string): number => new Blob([text]).size;

  /** Text PostgreSQL can store (no NUL), cut to the collector's length. */
  const clean = (text: string, max: number): string => text.replace(/\0/g, '').slice(0, max);

  /** UUID v4 from getRandomValues: randomUUID exists only in secure contexts. */
  const uuid = (): string => {
    const random = crypto.getRandomValues(new Uint8Array(16));
    random[6] = (random[6]! & 0x0f) | 0x40;
    random[8] = (random[8]! & 0x3f) | 0x80;
    const hex = Array.from(random, (byte) => byte.toString(16).padStart(2, '0')).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  };

  /** A session ends after 30 minutes without events; sessionStorage keeps it per tab. */
  const sessionId = (): string | undefined => {
    try {
      const now = Date.now();
      const stored = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null') as { id: string; at: number } | null;
      const id = stored && now - stored.at < SESSION_IDLE_MS ? stored.id : uuid();
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
  const post = (body: string, attempt: number): void => {
    const size = bytes(body);
    const keepalive = keptAlive + size <= LIMITS.bodyBytes;
    if (keepalive) keptAlive += size;
    fetch(endpoint, { method: 'POST', body, keepalive, credentials: 'include', headers: { 'content-type': 'text/plain' } })
      .then((response) => {
        if (response.status === 503) throw new Error('retry');
      })
      .finally(() => {
        if (keepalive) keptAlive -= size;
      })
      .catch(() => {
        // 503 or no network: the collector stored nothing, so send the same events (same ids) again.
        if (attempt < RETRIES) setTimeout(() => post(body, attempt + 1), 1000 * 2 ** attempt);
      });
  };

  /**
   * A visible page sends with fetch, which can see a 503 and retry; a page going away sends with
   * sendBeacon, which the browser delivers after the page is gone (fetch keepalive if it refuses).
   * Each request stays within the collector's event count and body size.
   */
  const flush = (leaving?: boolean): void => {
    clearTimeout(timer);
    timer = undefined;
    while (buffer.length > 0) {
      let count = 0;
      for (let size = ENVELOPE_BYTES; count < buffer.length && count < MAX_SENT; count++) {
        size += bytes(buffer[count]!) + 1;
        if (size > LIMITS.bodyBytes && count > 0) break;
      }
      const body = `${JSON.stringify({ tagId, sessionId: sessionId() }).slice(0, -1)},"events":[${buffer.splice(0, count).join(',')}]}`;
      if (!(leaving && navigator.sendBeacon?.(endpoint, new Blob([body], { type: 'text/plain' })))) post(body, 0);
    }
  };

  /** The event as the collector accepts it, or why it would refuse it. May throw on hostile data (getters, cycles). */
  const eventOf = (type: unknown, data: unknown, referrer: string): TrackedEvent | string => {
    if (typeof type !== 'string' || !TYPE.test(type)) return `type ${RULE_MESSAGES.type}`;
    if (data != null && (typeof data !== 'object' || Array.isArray(data))) return 'data must be an object';
    const { value, currency, ...rest } = (data ?? {}) as Record<string, unknown>;
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

  const send = (type: unknown, data?: unknown, referrer = document.referrer): void => {
    if (!consent) return;
    let event: TrackedEvent | string;
    try {
      event = eventOf(type, data, referrer);
    } catch {
      event = 'its data cannot be read as JSON';
    }
    if (typeof event === 'string') return warn(`mtag('track', ${typeof type === 'string' ? JSON.stringify(type.slice(0, 100)) : typeof type})`, event);
    buffer.push(JSON.stringify(event));
    if (buffer.length >= BATCH_SIZE) flush();
    else timer ??= setTimeout(flush, BATCH_DELAY_MS);
  };

  /** A new page is a new path or query string: a hash change (an in-page anchor) is not one. */
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
      else if (name === 'consent') {
        consent = first === true && navigator.globalPrivacyControl !== true;
        if (!consent) buffer = [];
      } else if (name === 'flush') flush();
      else warn(`mtag(${typeof name === 'string' ? JSON.stringify(name.slice(0, 100)) : typeof name})`, 'unknown command');
    } catch {
      // Never into the page.
    }
  };
  mtag.loaded = true;

  for (const method of ['pushState', 'replaceState'] as const) {
    const original = history[method].bind(history);
    history[method] = (...args: Parameters<History['pushState']>) => {
      original(...args);
      pageView();
    };
  }
  addEventListener('popstate', pageView);
  addEventListener('pagehide', () => flush(true));
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') flush(true);
  });

  // Calls made before the script loaded: consent applies before the first page view, events follow it.
  window.mtag = mtag;
  let queued: unknown[][] = [];
  try {
    queued = Array.from(existing?.q ?? [], (args) => Array.from(args));
  } catch {
    // a page's own mtag.q that is not a list of calls: nothing to replay
  }
  for (const command of queued) if (command[0] === 'consent') mtag(...command);
  send('page_view');
  for (const command of queued) if (command[0] !== 'consent') mtag(...command);
}

export {};
