/**
 * The MarkTag tracker. Loaded from the tag host with
 *   <script>window.mtag=window.mtag||function(){(mtag.q=mtag.q||[]).push(arguments)}</script>
 *   <script async src="https://<tracking host>/mtag.js" data-tag-id="<tagId>"></script>
 * it sends a page_view on load and on every single-page navigation, and exposes
 *   mtag('track', type, { value, currency, ...properties })  and  mtag('consent', false | true).
 * No dependencies; kept small (the build fails above 3 KB gzipped).
 */

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

type Command = ['track', string, Record<string, unknown>?] | ['consent', boolean] | ['flush'];

interface MtagFunction {
  (...command: Command): void;
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
const MAX_URL = 2048;
const RETRIES = 3;

const script = document.currentScript as HTMLScriptElement | null;
const tagId = script?.getAttribute('data-tag-id');
const existing = window.mtag;

if (script && tagId && !existing?.loaded) {
  const endpoint = new URL('/v1/collect', script.src).href;
  let consent = navigator.globalPrivacyControl !== true;
  let buffer: TrackedEvent[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lastUrl = location.href;

  /** UUID v4 from getRandomValues: randomUUID exists only in secure contexts. */
  const uuid = (): string => {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6]! & 0x0f) | 0x40;
    bytes[8] = (bytes[8]! & 0x3f) | 0x80;
    const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
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

  const post = (body: string, attempt: number): void => {
    fetch(endpoint, { method: 'POST', body, keepalive: true, credentials: 'include', headers: { 'content-type': 'text/plain' } })
      .then((response) => {
        if (response.status === 503) throw new Error('retry');
      })
      .catch(() => {
        // 503 or no network: the collector stored nothing, so send the same events (same ids) again.
        if (attempt < RETRIES) setTimeout(() => post(body, attempt + 1), 1000 * 2 ** attempt);
      });
  };

  /**
   * A visible page sends with fetch, which can see a 503 and retry; a page going away sends with
   * sendBeacon, which the browser delivers after the page is gone (fetch keepalive if it refuses).
   */
  const flush = (leaving?: boolean): void => {
    clearTimeout(timer);
    timer = undefined;
    while (buffer.length > 0) {
      const body = JSON.stringify({ tagId, sessionId: sessionId(), events: buffer.splice(0, 50) });
      if (!(leaving && navigator.sendBeacon?.(endpoint, new Blob([body], { type: 'text/plain' })))) post(body, 0);
    }
  };

  const send = (type: string, data: Record<string, unknown> = {}, referrer = document.referrer): void => {
    if (!consent) return;
    const { value, currency, ...properties } = data;
    const event: TrackedEvent = { eventId: uuid(), type, timestamp: new Date().toISOString(), url: location.href.slice(0, MAX_URL) };
    if (referrer) event.referrer = referrer.slice(0, MAX_URL);
    if (document.title) event.title = document.title.slice(0, 512);
    if (typeof value === 'number' && isFinite(value) && value >= 0) event.value = value;
    if (typeof currency === 'string') event.currency = currency.toUpperCase();
    if (Object.keys(properties).length > 0) event.properties = properties;
    buffer.push(event);
    if (buffer.length >= BATCH_SIZE) flush();
    else timer ??= setTimeout(flush, BATCH_DELAY_MS);
  };

  const pageView = (): void => {
    if (location.href === lastUrl) return;
    const from = lastUrl;
    lastUrl = location.href;
    send('page_view', {}, from);
  };

  const mtag: MtagFunction = (...command: Command) => {
    if (command[0] === 'track') send(command[1], command[2]);
    else if (command[0] === 'consent') {
      consent = command[1] === true && navigator.globalPrivacyControl !== true;
      if (!consent) buffer = [];
    } else if (command[0] === 'flush') flush();
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
  const queued = Array.from(existing?.q ?? [], (args) => Array.from(args) as Command);
  for (const command of queued) if (command[0] === 'consent') mtag(...command);
  send('page_view');
  for (const command of queued) if (command[0] !== 'consent') mtag(...command);
}

export {};
