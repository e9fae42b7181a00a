import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyEvents, type Owner } from '../bench/lib/copy.js';
import { openPostgres, type PostgresHandle, type RunStatement } from '../src/db/client.js';
import { migrate } from '../src/db/migrate.js';
import { EventsRepository } from '../src/modules/events/repository.js';
import type { EventsQuery } from '../src/modules/events/schemas.js';
import { EventsService } from '../src/modules/events/service.js';
import { MarktagsRepository } from '../src/modules/marktags/repository.js';
import { MerchantsRepository } from '../src/modules/merchants/repository.js';
import { engine } from './helpers/database.js';

/**
 * Issue 13, point 3: over a million events shaped like production (partners of different sizes,
 * merchants of very different sizes, some with several tags of which one is rare, 90 days in weekly
 * partitions, a rare type, many visitors and sessions), every filter of the Events API reads about
 * a page of rows, through the index meant for it. The SQL is the real one: the service and its
 * repositories run against the database and the statement they send is captured, then explained
 * twice: planned for its values (as its first five runs on a connection are), and as the generic
 * plan PostgreSQL then keeps for the named statement, whose partitions are pruned as it executes.
 */

const EVENTS = 1_000_000;
const DAYS = 90;
const PAGE = 50;
/** Rows all scans of one page may read (returned, filtered out or rechecked). */
const MOST_ROWS_READ = 2000;
const PARTNER_WEIGHTS = [0.4, 0.3, 0.2, 0.1];
const MERCHANTS_PER_PARTNER = 50;
/** The busiest merchants of each partner have 5, 4 or 3 tags; the rest one. */
const MULTI_TAG_MERCHANTS = 8;
const RARE_TAG_SHARE = 0.005;
const DAY_MS = 24 * 3600 * 1000;

interface WeightedOwner extends Owner {
  weight: number;
}

interface World {
  partnerId: string;
  merchantId: string;
  busyTagId: string;
  rareTagId: string;
  visitorId: string;
  sessionId: string;
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
}

interface Explained {
  Plan: PlanNode;
  'Planning Time': number;
  'Execution Time': number;
}

interface Captured {
  text: string;
  params: unknown[];
}

/** Partners, their merchants (weights falling as 1/rank) and tags (one busy, one rare). */
function owners(): WeightedOwner[] {
  const all: WeightedOwner[] = [];
  const harmonic = Array.from({ length: MERCHANTS_PER_PARTNER }, (_, k) => 1 / (k + 1)).reduce((a, b) => a + b, 0);
  for (const partnerWeight of PARTNER_WEIGHTS) {
    const partnerId = randomUUID();
    for (let k = 0; k < MERCHANTS_PER_PARTNER; k++) {
      const merchantId = randomUUID();
      const merchantWeight = (partnerWeight * (1 / (k + 1))) / harmonic;
      const tags = k < MULTI_TAG_MERCHANTS ? 5 - (k % 3) : 1;
      const shares = tags === 1 ? [1] : [0.6, ...Array<number>(tags - 2).fill((1 - 0.6 - RARE_TAG_SHARE) / (tags - 2)), RARE_TAG_SHARE];
      for (const share of shares) all.push({ partnerId, merchantId, tagId: randomUUID(), weight: merchantWeight * share });
    }
  }
  return all;
}

/** Draws an owner by weight (binary search of the cumulative weights). */
function ownerPicker(all: WeightedOwner[]): () => Owner {
  const cumulative: number[] = [];
  let total = 0;
  for (const owner of all) cumulative.push((total += owner.weight));
  return () => {
    const roll = Math.random() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((cumulative[mid] ?? 0) < roll) lo = mid + 1;
      else hi = mid;
    }
    return all[lo] as Owner;
  };
}

/** Most visitors come a few times; 1% of the events come from 20 who keep coming back. */
function visitor(): string {
  return Math.random() < 0.01 ? `regular${Math.floor(Math.random() * 20)}` : `v${Math.floor(Math.random() * 100_000)}`;
}

/** The plan's scans of events partitions (and of anything else), with the rows each read. */
function scans(node: PlanNode, into: PlanNode[] = []): PlanNode[] {
  if (node['Node Type'].endsWith('Scan')) into.push(node);
  for (const child of node.Plans ?? []) scans(child, into);
  return into;
}

/** For every scan: the rows it returned and those it read and dropped (filter, recheck), over all its loops. */
function rowsRead(plan: PlanNode): number {
  return (
    scans(plan)
      // A bitmap heap scan reads the rows its bitmap index scan found: count them once, at the heap.
      .filter((scan) => scan['Node Type'] !== 'Bitmap Index Scan')
      .reduce(
        (sum, scan) =>
          sum + ((scan['Actual Rows'] ?? 0) + (scan['Rows Removed by Filter'] ?? 0) + (scan['Rows Removed by Index Recheck'] ?? 0)) * (scan['Actual Loops'] ?? 0),
        0,
      )
  );
}

/** The plan as an indented outline: node, relation, index, rows returned, removed, loops. */
function outline(node: PlanNode, depth = 0): string {
  const parts = [
    node['Node Type'],
    node['Relation Name'] ?? '',
    node['Index Name'] ? `using ${node['Index Name']}` : '',
    `rows=${node['Actual Rows'] ?? 0}`,
    node['Rows Removed by Filter'] ? `removed=${node['Rows Removed by Filter']}` : '',
    node['Rows Removed by Index Recheck'] ? `rechecked=${node['Rows Removed by Index Recheck']}` : '',
    `loops=${node['Actual Loops'] ?? 0}`,
  ];
  const line = `${'  '.repeat(depth)}${parts.filter(Boolean).join(' ')}`;
  return [line, ...(node.Plans ?? []).map((child) => outline(child, depth + 1))].join('\n');
}

/** The indexes a scan reads: its own, or those of the bitmap index scans under a bitmap heap scan. */
function indexesOf(scan: PlanNode): string[] {
  if (scan['Index Name'] !== undefined) return [scan['Index Name']];
  return scans({ 'Node Type': '', Plans: scan.Plans ?? [] }).flatMap((child) => (child['Index Name'] === undefined ? [] : [child['Index Name']]));
}

const iso = (daysAgo: number) => new Date(Date.now() - daysAgo * DAY_MS).toISOString();

interface Case {
  name: string;
  query: (w: World) => Omit<EventsQuery, 'limit'>;
  /** The parent index every scan of an events partition must use. */
  index: string;
  /** Pages to turn first (following nextCursor); the explained one is the next. */
  skip?: number;
}

const CASES: Case[] = [
  { name: 'merchant, newest page', query: (w) => ({ merchantId: w.merchantId }), index: 'events_merchant_time_idx' },
  { name: 'merchant + common type', query: (w) => ({ merchantId: w.merchantId, type: 'page_view' }), index: 'events_merchant_type_time_idx' },
  { name: 'merchant + rare type', query: (w) => ({ merchantId: w.merchantId, type: 'rare_type' }), index: 'events_merchant_type_time_idx' },
  { name: 'merchant + rare tag', query: (w) => ({ tagId: w.rareTagId }), index: 'events_merchant_tag_time_idx' },
  { name: 'merchant + busy tag', query: (w) => ({ tagId: w.busyTagId }), index: 'events_merchant_tag_time_idx' },
  { name: 'partner-wide', query: () => ({}), index: 'events_partner_time_idx' },
  { name: 'partner-wide + rare type', query: () => ({ type: 'rare_type' }), index: 'events_partner_type_time_idx' },
  { name: 'visitor', query: (w) => ({ visitorId: w.visitorId }), index: 'events_partner_visitor_time_idx' },
  { name: 'session', query: (w) => ({ sessionId: w.sessionId }), index: 'events_partner_session_time_idx' },
  { name: 'merchant + from/to mid-history', query: (w) => ({ merchantId: w.merchantId, from: iso(50), to: iso(43) }), index: 'events_merchant_time_idx' },
  { name: 'merchant, page 5 by cursor', query: (w) => ({ merchantId: w.merchantId }), index: 'events_merchant_time_idx', skip: 4 },
];

describe.runIf(engine === 'postgres')('Events API index plans over 1M events (PostgreSQL)', () => {
  const base = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://localhost/none');
  const name = `${base.pathname.slice(1)}_plans`;
  const url = new URL(base);
  url.pathname = `/${name}`;
  const quoted = `"${name.replaceAll('"', '""')}"`;

  let handle: PostgresHandle;
  let client: pg.Client;
  let service: EventsService;
  let world: World;
  /** Parent index name of every partition index. */
  const parentOf = new Map<string, string>();
  /** Partitions holding rows (as analyzed). */
  const filled = new Set<string>();
  const captured: Captured[] = [];
  const results: { name: string; rows: number; index: string; ms: number }[] = [];
  let loadSeconds = 0;
  let copySeconds = 0;

  async function admin(text: string): Promise<void> {
    const connection = new pg.Client({ connectionString: base.toString() });
    await connection.connect();
    try {
      await connection.query(text);
    } finally {
      await connection.end();
    }
  }

  beforeAll(async () => {
    await admin(`drop database if exists ${quoted} with (force)`);
    await admin(`create database ${quoted}`);
    handle = openPostgres(url.toString(), { max: 2 });
    await migrate(handle);
    client = new pg.Client({ connectionString: url.toString() });
    await client.connect();

    const all = owners();
    const partners = [...new Set(all.map((o) => o.partnerId))];
    const merchants = [...new Map(all.map((o) => [o.merchantId, o.partnerId])).entries()];
    await client.query(`insert into partners (id, name) select id, 'Plans ' || id from unnest($1::uuid[]) as id`, [partners]);
    await client.query(`insert into merchants (id, partner_id, name) select m, p, 'Shop ' || m from unnest($1::uuid[], $2::uuid[]) as t(m, p)`, [
      merchants.map(([m]) => m),
      merchants.map(([, p]) => p),
    ]);
    await client.query(
      `insert into marktags (id, partner_id, merchant_id, domain, root_domain, hostname, preverified, status)
       select t, p, m, t || '.shop.test', 'shop.test', t || '.shop.test', false, 'active' from unnest($1::uuid[], $2::uuid[], $3::uuid[]) as x(t, p, m)`,
      [all.map((o) => o.tagId), all.map((o) => o.partnerId), all.map((o) => o.merchantId)],
    );

    const started = performance.now();
    const pick = ownerPicker(all);
    // Creates the weekly partitions of the 90 days, loads in one transaction, then vacuum analyze.
    const rate = await copyEvents(url.toString(), all, EVENTS, { days: DAYS, owner: pick, visitor, inTimeOrder: true, indexesAfter: true });
    loadSeconds = (performance.now() - started) / 1000;
    copySeconds = EVENTS / rate;

    // The subject: the busiest merchant of the biggest partner, which has five tags.
    const top = all[0] as WeightedOwner;
    const tags = all.filter((o) => o.merchantId === top.merchantId);
    const regular = (
      await client.query<{ visitor_id: string; session_id: string }>(
        `select visitor_id, session_id from events where partner_id = $1 and visitor_id = 'regular0' and timestamp > now() - interval '7 days' limit 1`,
        [top.partnerId],
      )
    ).rows[0];
    world = {
      partnerId: top.partnerId,
      merchantId: top.merchantId,
      busyTagId: tags[0]?.tagId ?? '',
      rareTagId: tags.at(-1)?.tagId ?? '',
      visitorId: regular?.visitor_id ?? '',
      sessionId: regular?.session_id ?? '',
    };

    const indexes = await client.query<{ child: string; parent: string }>(
      `select c.relname as child, p.relname as parent from pg_inherits i
       join pg_class c on c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent
       where p.relkind = 'I' and p.relname like 'events%'`,
    );
    for (const { child, parent } of indexes.rows) parentOf.set(child, parent);
    const partitions = await client.query<{ name: string }>(
      `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'events'::regclass and c.reltuples > 0`,
    );
    for (const { name: partition } of partitions.rows) filled.add(partition);

    // The application's own statements, through a runner that keeps what it sends.
    const run: RunStatement = (statement, params) => {
      captured.push({ text: statement.text, params });
      return handle.run(statement, params);
    };
    service = new EventsService(new EventsRepository(handle.db, run), new MerchantsRepository(handle.db, run), new MarktagsRepository(handle.db));
  }, 480_000);

  afterAll(async () => {
    const table = results.map((r) => `${r.name.padEnd(44)} ${String(r.rows).padStart(6)} rows  ${r.ms.toFixed(1).padStart(7)} ms  ${r.index}`);
    console.log(`loaded ${EVENTS} events in ${loadSeconds.toFixed(1)} s (COPY ${copySeconds.toFixed(1)} s), ${filled.size} partitions with rows\n${table.join('\n')}`);
    await client?.end();
    await handle?.close();
    await admin(`drop database if exists ${quoted} with (force)`);
  }, 60_000);

  it('spreads the events over the weekly partitions of 90 days', () => {
    expect(filled.size).toBeGreaterThanOrEqual(13);
    expect(world.visitorId).not.toBe('');
    expect(world.sessionId).not.toBe('');
  });

  /** The events statement the service sends for a page of `PAGE`, after turning `skip` pages. */
  async function pageStatement(query: Omit<EventsQuery, 'limit'>, skip: number): Promise<Captured> {
    let cursor: string | undefined;
    for (let page = 0; page < skip; page++) {
      const answer = await service.list(world.partnerId, { ...query, limit: PAGE, ...(cursor ? { cursor } : {}) });
      expect(answer.pagination.nextCursor).not.toBeNull();
      cursor = answer.pagination.nextCursor ?? undefined;
    }
    captured.length = 0;
    const answer = await service.list(world.partnerId, { ...query, limit: PAGE, ...(cursor ? { cursor } : {}) });
    expect(answer.events.length).toBeGreaterThan(0);
    const statements = captured.filter((c) => /\bfrom events\b/.test(c.text));
    expect(statements).toHaveLength(1);
    return statements[0] as Captured;
  }

  /** EXPLAIN ANALYZE of the statement as planned for its values, or of the generic plan of it prepared. */
  async function explain(statement: Captured, plan: 'custom' | 'generic'): Promise<Explained> {
    const options = 'analyze, buffers, format json';
    if (plan === 'custom') {
      const [explained] = (await client.query<{ 'QUERY PLAN': Explained[] }>(`explain (${options}) ${statement.text}`, statement.params)).rows[0]?.['QUERY PLAN'] ?? [];
      if (!explained) throw new Error('no plan');
      return explained;
    }
    const literal = (value: unknown) => client.escapeLiteral(value instanceof Date ? value.toISOString() : Array.isArray(value) ? `{${value.join(',')}}` : String(value));
    await client.query(`prepare explained as ${statement.text}`);
    try {
      await client.query('set plan_cache_mode = force_generic_plan');
      const [explained] = (await client.query<{ 'QUERY PLAN': Explained[] }>(`explain (${options}) execute explained(${statement.params.map(literal).join(', ')})`)).rows[0]?.['QUERY PLAN'] ?? [];
      if (!explained) throw new Error('no plan');
      return explained;
    } finally {
      await client.query('reset plan_cache_mode');
      await client.query('deallocate explained');
    }
  }

  it.each(CASES.flatMap((c) => (['custom', 'generic'] as const).map((plan) => ({ ...c, plan }))))(
    '$name reads about a page, through $index ($plan plan)',
    async ({ name, query, index, skip, plan: kind }) => {
      const label = `${name} (${kind})`;
      const statement = await pageStatement(query(world), skip ?? 0);
      const explained = await explain(statement, kind);
      const plan = explained.Plan;
      const read = rowsRead(plan);
      // Only partitions that hold rows: the empty ones (the weeks ahead, the default) read nothing
      // whatever the plan, which picks any index, or a sequential scan, for a table it knows is empty.
      const partitionScans = scans(plan).filter((scan) => filled.has(scan['Relation Name'] ?? ''));
      const how = (scan: PlanNode) =>
        `${indexesOf(scan).map((name) => parentOf.get(name) ?? name).join('+') || '-'}${scan['Node Type'] === 'Index Scan' ? '' : ` (${scan['Node Type']})`}`;
      const used = [...new Set(partitionScans.map(how))];
      const ms = explained['Planning Time'] + explained['Execution Time'];
      results.push({ name: label, rows: read, index: used.join(', '), ms });
      const shown = `${statement.text}\nparams ${JSON.stringify(statement.params)}\n${outline(plan)}`;
      expect(read, `${label}: ${read} rows read\n${shown}`).toBeLessThan(MOST_ROWS_READ);
      expect(partitionScans.length, shown).toBeGreaterThan(0);
      // No sequential scan reads a row (those of empty partitions read none).
      const sequential = scans(plan).filter((scan) => scan['Node Type'] === 'Seq Scan');
      expect(sequential.filter((scan) => rowsRead(scan) > 0 || filled.has(scan['Relation Name'] ?? '')), shown).toEqual([]);
      for (const scan of partitionScans) {
        expect(['Index Scan', 'Index Only Scan', 'Bitmap Heap Scan'], `${label}: ${scan['Relation Name']} by ${scan['Node Type']}\n${shown}`).toContain(scan['Node Type']);
        const parents = indexesOf(scan).map((name) => parentOf.get(name));
        expect(parents.length, shown).toBeGreaterThan(0);
        for (const parent of parents) expect(parent, `${label}: ${scan['Relation Name']} by ${how(scan)}\n${shown}`).toBe(index);
      }
    },
  );
});
