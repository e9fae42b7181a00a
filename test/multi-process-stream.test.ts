import { randomUUID } from 'node:crypto';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EventSource } from 'eventsource';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CreatePartnerResponse } from '../src/modules/admin/schemas.js';
import type { CollectBody, CollectResponse } from '../src/modules/collect/schemas.js';
import type { ApiEvent } from '../src/modules/events/schemas.js';
import { ADMIN_TOKEN } from './helpers/app.js';
import { engine } from './helpers/database.js';
import { finished, listeningUrls, spawnCli, type Finished } from './helpers/process.js';

/**
 * The live stream's promise across processes: two collector processes and two API processes of
 * the real server on one fresh PostgreSQL database. Live streams on both API processes (some
 * filtered by merchant, tag or type) are dropped and reopened several times, on the same process
 * or the other one, while both collectors take concurrent load (single events, small batches,
 * replays of acknowledged events, the same batch sent to both collectors at once). Then every
 * stream has received every event matching its filters exactly once, in strictly increasing id
 * order, and the database holds every acknowledged event exactly once.
 *
 * Written against the HTTP API only (the collector, the Partners API's stream and export, the
 * Admin API); the database is read only to count stored (tag, eventId) pairs.
 *
 * PostgreSQL only: processes share events through the database and its NOTIFY; the embedded
 * engine (PGlite) is one process's own in-memory database.
 */
const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
/** The load runs at least this long, and until every stream has reconnected RECONNECTS times; never longer than LOAD_CAP_MS. */
const LOAD_MIN_MS = 7000;
const LOAD_CAP_MS = 16_000;
const LOOPS_PER_COLLECTOR = 8;
const RECONNECTS = 3;
/** When the late streams open, after the load started. */
const LATE_OPEN_MS = 1500;
const DRAIN_TIMEOUT_MS = 20_000;
const TYPES = ['page_view', 'page_view', 'add_to_cart', 'purchase', 'lead'];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await sleep(25);
  return condition();
}

/** A small seeded generator: the shape of the load is the same on every run (its timing is not). */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(items: readonly T[], random: () => number): T => items[Math.floor(random() * items.length)] as T;

// ---- processes and database -------------------------------------------------------------------

interface Server {
  name: string;
  url: string;
  adminUrl: string;
  child: ChildProcessWithoutNullStreams;
  exit: Promise<Finished>;
}

async function startServer(name: string, role: 'api' | 'collector', databaseUrl: string, dataDir: string, running: Server[]): Promise<Server> {
  const child = spawnCli(['serve'], {
    PORT: '0',
    HOST: '127.0.0.1',
    MARKTAG_ROLE: role,
    MARKTAG_DATA_DIR: dataDir,
    MARKTAG_ADMIN_TOKEN: ADMIN_TOKEN,
    MARKTAG_REVERIFY_INTERVAL: 'off',
    LOG_LEVEL: 'info',
    DATABASE_URL: databaseUrl,
  });
  const server: Server = { name, url: '', adminUrl: '', child, exit: finished(child) };
  running.push(server); // stopped after the test whether or not it started
  Object.assign(server, await listeningUrls(child, 60_000));
  return server;
}

async function stopServer(server: Server): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  server.child.kill('SIGTERM');
  const stopped = await Promise.race([server.exit.then(() => true), sleep(15_000).then(() => false)]);
  if (!stopped) {
    server.child.kill('SIGKILL');
    await server.exit;
  }
}

async function onDatabase<T>(connectionString: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

// ---- the HTTP API -----------------------------------------------------------------------------

async function call<T>(base: string, token: string, method: 'GET' | 'POST', route: string, status: number, body?: unknown): Promise<T> {
  const response = await fetch(`${base}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== status) throw new Error(`${method} ${route}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

interface Tag {
  tagId: string;
  merchantId: string;
  domain: string;
}

interface Partner {
  token: string;
  merchants: string[];
  tags: Tag[];
}

/** A partner with a domain, merchants and preverified (so collecting) tags on subdomains of it. */
async function onboard(api: Server, name: string, tagsPerMerchant: number[]): Promise<Partner> {
  const domain = `${name}${randomUUID().slice(0, 8)}.test`;
  const partner = await call<CreatePartnerResponse>(api.adminUrl, ADMIN_TOKEN, 'POST', '/v1/admin/partners', 201, { name, domain });
  const merchants: string[] = [];
  const tags: Tag[] = [];
  for (const [index, count] of tagsPerMerchant.entries()) {
    const { merchantId } = await call<{ merchantId: string }>(api.url, partner.token, 'POST', '/v1/partners/merchant', 201, { name: `${name} ${index}` });
    merchants.push(merchantId);
    for (let n = 0; n < count; n++) {
      const tagDomain = `m${index}t${n}.${domain}`;
      const { tagId } = await call<{ tagId: string }>(api.url, partner.token, 'POST', '/v1/partners/marktag/generate', 200, { merchantId, domain: tagDomain });
      tags.push({ tagId, merchantId, domain: tagDomain });
    }
  }
  return { token: partner.token, merchants, tags };
}

/** Every event of the partner, through the export (NDJSON). */
async function exported(api: Server, partner: Partner): Promise<ApiEvent[]> {
  const response = await fetch(`${api.url}/v1/partners/events/export?format=ndjson`, { headers: { authorization: `Bearer ${partner.token}` } });
  if (response.status !== 200) throw new Error(`export: ${response.status} ${await response.text()}`);
  return (await response.text())
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ApiEvent);
}

// ---- live streams -----------------------------------------------------------------------------

interface StreamFilter {
  merchantId?: string;
  tagId?: string;
  types?: string[];
}

/**
 * One consumer of the live stream, through the `eventsource` package, over as many connections as
 * the test makes it use. `drop` cuts the current connection under the client (as a load balancer
 * would): EventSource reconnects by itself after the server's `retry` with its own Last-Event-ID.
 * `reopen` closes the client and opens a new EventSource, on the other API process, with the
 * Last-Event-ID header set to the last id received.
 */
class LiveStream {
  readonly received: ApiEvent[] = [];
  readonly history: string[] = [];
  /** Connections that answered 200 (the first one, and each reconnection). */
  opens = 0;
  /** Reconnections the test caused. */
  reconnects = 0;
  /** Events whose SSE `id:` differs from the event's own id. */
  mismatchedIds = 0;
  /** Connections EventSource made by itself with its own Last-Event-ID: its reconnects after a drop. */
  autoResumes = 0;
  drops = 0;
  readonly closeMessages: string[] = [];
  private source: EventSource | undefined;
  private cut: AbortController | undefined;
  private readonly started = Date.now();

  constructor(
    readonly name: string,
    private readonly partner: Partner,
    readonly filter: StreamFilter,
    private readonly apis: Server[],
    private server: number,
    /** The Last-Event-ID of the first connection; undefined: live from the moment it opens. */
    readonly from: bigint | undefined,
  ) {
    this.connect(from);
  }

  /** What the stream must deliver, whatever its start: this partner's events matching its filters. */
  matches(event: ApiEvent): boolean {
    return (
      this.partner.merchants.includes(event.merchantId) &&
      (this.filter.merchantId === undefined || event.merchantId === this.filter.merchantId) &&
      (this.filter.tagId === undefined || event.tagId === this.filter.tagId) &&
      (this.filter.types === undefined || this.filter.types.includes(event.type))
    );
  }

  get lastId(): bigint | undefined {
    const last = this.received.at(-1);
    return last === undefined ? this.from : BigInt(last.id);
  }

  get isOpen(): boolean {
    return this.source?.readyState === EventSource.OPEN;
  }

  drop(): void {
    this.reconnects++;
    this.drops++;
    this.note(`drop on ${this.apis[this.server]?.name ?? '?'} after ${this.lastId ?? 'nothing'}`);
    this.cut?.abort(new Error('connection dropped by the test'));
  }

  reopen(): void {
    const resume = this.lastId ?? 0n;
    this.reconnects++;
    this.source?.close();
    this.server = (this.server + 1) % this.apis.length;
    this.note(`reopen on ${this.apis[this.server]?.name ?? '?'} with Last-Event-ID ${resume}`);
    this.connect(resume);
  }

  close(): void {
    this.source?.close();
  }

  private note(what: string): void {
    this.history.push(`+${Date.now() - this.started}ms ${what}`);
  }

  private connect(resume: bigint | undefined): void {
    const query = new URLSearchParams({
      ...(this.filter.merchantId ? { merchantId: this.filter.merchantId } : {}),
      ...(this.filter.tagId ? { tagId: this.filter.tagId } : {}),
      ...(this.filter.types ? { type: this.filter.types.join(',') } : {}),
    }).toString();
    const url = `${this.apis[this.server]?.url ?? ''}/v1/partners/events/stream${query ? `?${query}` : ''}`;
    const resumeHeader: Record<string, string> = resume === undefined ? {} : { 'Last-Event-ID': resume.toString() };
    const source = new EventSource(url, {
      fetch: (input, init) => {
        const cut = new AbortController();
        this.cut = cut;
        const own = init.headers['Last-Event-ID'];
        if (own !== undefined) this.autoResumes++;
        this.note(`connect to ${this.apis[this.server]?.name ?? '?'}, Last-Event-ID ${own ?? resumeHeader['Last-Event-ID'] ?? 'none'}${own === undefined ? '' : ' (EventSource\'s own)'}`);
        return fetch(input, {
          ...init,
          // EventSource's own Last-Event-ID (on its reconnects) wins over the one this client opened with.
          headers: { ...resumeHeader, ...init.headers, authorization: `Bearer ${this.partner.token}` },
          signal: AbortSignal.any([init.signal as AbortSignal, cut.signal]),
        });
      },
    });
    this.source = source;
    source.addEventListener('open', () => {
      if (this.source !== source) return;
      this.opens++;
      this.note(`open (${this.opens}) on ${this.apis[this.server]?.name ?? '?'}`);
    });
    source.addEventListener('event', (message) => {
      if (this.source !== source) return; // a closed client: nothing more is read from it
      const event = JSON.parse(String(message.data)) as ApiEvent;
      if (message.lastEventId !== event.id) this.mismatchedIds++;
      this.received.push(event);
    });
    source.addEventListener('close', (message) => this.closeMessages.push(String(message.data)));
    source.addEventListener('error', (error) => {
      if (this.source === source) this.note(`error: ${error.message ?? ''} (readyState ${source.readyState})`);
    });
  }
}

/** RECONNECTS reconnections of the stream, spaced out, each once it is open and has a position to resume from. */
async function churn(stream: LiveStream, plan: ('drop' | 'reopen')[], random: () => number, deadline: number): Promise<void> {
  for (const action of plan) {
    await sleep(500 + random() * 800);
    if (!(await until(() => stream.isOpen && stream.lastId !== undefined, deadline - Date.now()))) return;
    if (action === 'drop') stream.drop();
    else stream.reopen();
  }
  await until(() => stream.isOpen, deadline - Date.now());
}

// ---- load -------------------------------------------------------------------------------------

/** What was sent through the collectors and what they acknowledged, by `tagId/eventId`. */
class Load {
  readonly sent = new Map<string, { merchantId: string; type: string }>();
  readonly acknowledged = new Set<string>();
  /** Bodies answered 202: replayed later, to either collector. */
  readonly replayable: CollectBody[] = [];
  readonly statuses = new Map<string, number>();
  requests = 0;
  /** Sum over 202 answers of accepted − duplicates: the events each request newly stored. */
  newlyStored = 0;
  replays = 0;
  twins = 0;

  constructor(
    readonly tags: Tag[],
    private readonly collectors: Server[],
  ) {}

  body(random: () => number, visitor: string): CollectBody {
    const tag = pick(this.tags, random);
    const size = random() < 0.5 ? 1 : 2 + Math.floor(random() * 4);
    const events: CollectBody['events'] = Array.from({ length: size }, () => ({
      eventId: randomUUID(),
      type: pick(TYPES, random),
      url: `https://${tag.domain}/p/${Math.floor(random() * 100)}`,
    }));
    // Now and then the same event twice in one request.
    if (random() < 0.05 && events[0]) events.push({ ...events[0] });
    return { tagId: tag.tagId, visitorId: visitor, sessionId: `${visitor}-s`, events };
  }

  async post(collector: Server, body: CollectBody): Promise<void> {
    const tag = this.tags.find((candidate) => candidate.tagId === body.tagId);
    for (const event of body.events) this.sent.set(`${body.tagId}/${event.eventId ?? ''}`, { merchantId: tag?.merchantId ?? '', type: event.type });
    this.requests++;
    let status: string;
    try {
      const response = await fetch(`${collector.url}/v1/collect`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': UA },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(15_000),
      });
      status = String(response.status);
      if (response.status === 202) {
        const outcome = (await response.json()) as CollectResponse;
        this.newlyStored += outcome.accepted - outcome.duplicates;
        for (const event of body.events) this.acknowledged.add(`${body.tagId}/${event.eventId ?? ''}`);
        this.replayable.push(body);
      } else {
        status += ` ${await response.text()}`;
      }
    } catch (error) {
      status = `failed: ${String(error)}`;
    }
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
  }

  /** One sender on `own` collector until `running()` is false: fresh events, replays, and the same batch to both collectors at once. */
  async loop(own: number, seed: number, running: () => boolean): Promise<void> {
    const random = seeded(seed);
    const visitor = `v${seed}`;
    const collector = this.collectors[own] as Server;
    while (running()) {
      const roll = random();
      if (roll < 0.12 && this.replayable.length > 0) {
        this.replays++;
        await this.post(pick(this.collectors, random), pick(this.replayable, random));
      } else if (roll < 0.24) {
        this.twins++;
        const body = this.body(random, visitor);
        await Promise.all(this.collectors.map((other) => this.post(other, body)));
      } else {
        await this.post(collector, this.body(random, visitor));
      }
    }
  }
}

// ---- the test ---------------------------------------------------------------------------------

/** Everything wrong with what one stream received, against what it should have. */
function audit(stream: LiveStream, expected: ApiEvent[]) {
  const ids = stream.received.map((event) => BigInt(event.id));
  const seen = new Set<string>();
  const duplicates: string[] = [];
  for (const event of stream.received) {
    if (seen.has(event.id)) duplicates.push(event.id);
    seen.add(event.id);
  }
  const wanted = new Set(expected.map((event) => event.id));
  const outOfOrder = ids.filter((id, index) => index > 0 && id <= (ids[index - 1] ?? 0n)).length;
  const missing = expected.filter((event) => !seen.has(event.id)).map((event) => event.id);
  const unexpected = [...seen].filter((id) => !wanted.has(id));
  return {
    stream: stream.name,
    expected: expected.length,
    received: stream.received.length,
    missing: missing.slice(0, 10),
    missingCount: missing.length,
    duplicates: duplicates.slice(0, 10),
    duplicateCount: duplicates.length,
    unexpected: unexpected.slice(0, 10),
    unexpectedCount: unexpected.length,
    outOfOrder,
    mismatchedIds: stream.mismatchedIds,
  };
}

const CLEAN = { missing: [], missingCount: 0, duplicates: [], duplicateCount: 0, unexpected: [], unexpectedCount: 0, outOfOrder: 0, mismatchedIds: 0 };

describe.skipIf(engine !== 'postgres')('live streams across two collector and two API processes (PostgreSQL only: needs TEST_DATABASE_URL)', () => {
  const running: Server[] = [];
  const streams: LiveStream[] = [];
  let dataDir = '';
  const base = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://localhost/marktag');
  const databaseName = `${base.pathname.slice(1).replace(/[^a-z0-9_]/gi, '').slice(0, 40) || 'marktag'}_multi_${randomUUID().slice(0, 8)}`.toLowerCase();
  const databaseUrl = Object.assign(new URL(base), { pathname: `/${databaseName}` }).toString();
  let created = false;
  let collectors: Server[] = [];
  let apis: Server[] = [];
  let setupMs = 0;

  beforeAll(async () => {
    const setupStart = Date.now();
    dataDir = mkdtempSync(path.join(tmpdir(), 'marktag-multi-stream-'));
    await onDatabase(base.toString(), (client) => client.query(`create database "${databaseName}"`));
    created = true;
    // All four at once on the fresh database: each migrates at start (serialised by the migration lock).
    const started = await Promise.all([
      startServer('collector-1', 'collector', databaseUrl, dataDir, running),
      startServer('collector-2', 'collector', databaseUrl, dataDir, running),
      startServer('api-1', 'api', databaseUrl, dataDir, running),
      startServer('api-2', 'api', databaseUrl, dataDir, running),
    ]);
    collectors = started.slice(0, 2);
    apis = started.slice(2);
    setupMs = Date.now() - setupStart;
  }, 90_000);

  afterAll(async () => {
    for (const stream of streams) stream.close();
    await Promise.all(running.map(stopServer));
    if (created) await onDatabase(base.toString(), (client) => client.query(`drop database if exists "${databaseName}" with (force)`));
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('every stream receives every matching event exactly once, in id order, across reconnects; every acknowledged event is stored once', { timeout: 120_000 }, async () => {
    const api = apis[0] as Server;
    // Partner A: three merchants, the first with two tags. Partner B: one merchant, one tag.
    const a = await onboard(api, 'pa', [2, 1, 1]);
    const b = await onboard(api, 'pb', [1]);
    const [m1, m2, m3] = a.merchants;
    const t1b = a.tags[1]?.tagId;
    const load = new Load([...a.tags, ...b.tags], collectors);

    // Streams opened before any event exists: each must receive every matching event.
    const open = (name: string, partner: Partner, filter: StreamFilter, server: number, from?: bigint) => {
      const stream = new LiveStream(name, partner, filter, apis, server, from);
      streams.push(stream);
      return stream;
    };
    const everything = open('A: all (api-1)', a, {}, 0);
    open('A: all (api-2)', a, {}, 1);
    open('A: merchant 1', a, { merchantId: m1 }, 1);
    open('A: merchant 2, purchase or lead', a, { merchantId: m2, types: ['purchase', 'lead'] }, 0);
    open('A: page_view', a, { types: ['page_view'] }, 0);
    open('A: tag 1b', a, { tagId: t1b }, 1);
    open('B: all', b, {}, 0);
    expect(await until(() => streams.every((stream) => stream.isOpen), 20_000), 'every stream open').toBe(true);
    // The 200 is written before the process's reader records where live starts: give it a moment.
    await sleep(500);

    // One page_view and one purchase on every tag: every stream matches at least one; all are collectable.
    await Promise.all(
      load.tags.map((tag, index) =>
        load.post(collectors[index % 2] as Server, {
          tagId: tag.tagId,
          visitorId: 'marker',
          events: ['page_view', 'purchase'].map((type) => ({ eventId: randomUUID(), type, url: `https://${tag.domain}/` })),
        }),
      ),
    );
    expect([...load.statuses.keys()], 'markers acknowledged').toEqual(['202']);
    expect(await until(() => streams.every((stream) => stream.received.length > 0), 20_000), 'every stream received its markers').toBe(true);

    // Load through both collectors; meanwhile every stream reconnects RECONNECTS times.
    const loadStart = Date.now();
    const deadline = loadStart + LOAD_CAP_MS;
    let stopLoad = false;
    const loading = () => !stopLoad && Date.now() < deadline;
    const senders = collectors.flatMap((_collector, own) =>
      Array.from({ length: LOOPS_PER_COLLECTOR }, (_loop, index) => load.loop(own, 1000 * (own + 1) + index, loading)),
    );
    const plans: ('drop' | 'reopen')[][] = [
      ['drop', 'reopen', 'reopen'],
      ['reopen', 'drop', 'reopen'],
      ['reopen', 'reopen', 'drop'],
      ['reopen', 'reopen', 'reopen'],
    ];
    const churns = streams.map((stream, index) => churn(stream, plans[index % plans.length] ?? [], seeded(7 + index), deadline));
    // Two late streams: one resuming from an id another stream has received, one live from when it opens.
    await sleep(LATE_OPEN_MS);
    const late = open('A: all, late, from a Last-Event-ID', a, {}, 1, everything.lastId ?? 0n);
    const joiner = open('A: merchant 3, late, live from its opening', a, { merchantId: m3 }, 0);
    churns.push(churn(late, plans[1] ?? [], seeded(101), deadline), churn(joiner, plans[3] ?? [], seeded(102), deadline));
    await Promise.all(churns);
    await sleep(Math.max(0, loadStart + LOAD_MIN_MS - Date.now()));
    stopLoad = true;
    await Promise.all(senders);
    const loadMs = Date.now() - loadStart;

    // What is stored, through the API: every stream's expected set.
    const all = [...(await exported(api, a)), ...(await exported(api, b))];
    const expectedOf = (stream: LiveStream): ApiEvent[] => {
      // The live joiner starts where its process's reader was when it opened: from its first event on, nothing may be missing.
      const first = stream === joiner ? stream.received[0] : undefined;
      const after = stream.from;
      return all
        .filter((event) => stream.matches(event))
        .filter((event) => (first === undefined ? true : BigInt(event.id) >= BigInt(first.id)))
        .filter((event) => (after === undefined ? true : BigInt(event.id) > after))
        .sort((x, y) => (BigInt(x.id) < BigInt(y.id) ? -1 : 1));
    };
    const drained = await until(
      () => streams.every((stream) => stream.isOpen && stream.received.length >= expectedOf(stream).length),
      DRAIN_TIMEOUT_MS,
    );
    // Anything arriving late (a duplicate, an event of another filter) arrives now.
    await sleep(500);

    const audits = streams.map((stream) => audit(stream, expectedOf(stream)));
    const summary = {
      setupMs,
      loadMs,
      requests: load.requests,
      replays: load.replays,
      twins: load.twins,
      sentEvents: load.sent.size,
      storedEvents: all.length,
      streams: audits.map(({ stream, expected, received }) => `${stream}: ${received}/${expected}`),
    };
    console.log(JSON.stringify(summary));
    const detail = streams.map((stream) => `${stream.name}:\n  ${stream.history.join('\n  ')}`).join('\n');

    expect(Object.fromEntries(load.statuses), 'every collector answer').toEqual({ '202': load.requests });
    expect(drained, `streams drained within ${DRAIN_TIMEOUT_MS} ms\n${JSON.stringify(audits, null, 2)}\n${detail}`).toBe(true);
    for (const result of audits) expect(result, `${result.stream}\n${detail}`).toMatchObject(CLEAN);
    for (const stream of streams) {
      expect(stream.reconnects, `${stream.name} reconnected`).toBe(RECONNECTS);
      expect(stream.opens, `${stream.name} connections\n${stream.history.join('\n')}`).toBeGreaterThanOrEqual(1 + RECONNECTS);
      // Each drop was followed by EventSource's own reconnect, carrying its own Last-Event-ID.
      expect(stream.autoResumes, `${stream.name} reconnects by EventSource itself\n${stream.history.join('\n')}`).toBeGreaterThanOrEqual(stream.drops);
      expect(stream.closeMessages, `${stream.name}: no stream was ended by a server`).toEqual([]);
    }
    // The load did what it says (bounds low enough for a busy 2-core machine): events, replays and racing twins, and every stream had some.
    expect(load.sent.size).toBeGreaterThan(200);
    expect(load.replays).toBeGreaterThan(5);
    expect(load.twins).toBeGreaterThan(5);
    for (const result of audits) expect(result.expected, result.stream).toBeGreaterThan(5);

    // Stored exactly once: every acknowledged event, nothing that was not sent, no (tag, eventId) twice.
    const stored = await onDatabase(databaseUrl, (client) =>
      client.query<{ key: string; copies: number }>(`select tag_id::text || '/' || event_id::text as key, count(*)::int as copies from events group by 1`),
    );
    const copies = new Map(stored.rows.map((row) => [row.key, row.copies]));
    expect(stored.rows.filter((row) => row.copies !== 1), 'stored more than once').toEqual([]);
    expect([...load.acknowledged].filter((key) => !copies.has(key)), 'acknowledged, not stored').toEqual([]);
    expect([...copies.keys()].filter((key) => !load.sent.has(key)), 'stored, never sent').toEqual([]);
    expect(copies.size, 'events the collectors said they newly stored').toBe(load.newlyStored);
    expect(all.length, 'events the export serves').toBe(copies.size);
  });
});
