import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MarktagsRepository } from '../src/modules/marktags/repository.js';
import { MerchantsRepository } from '../src/modules/merchants/repository.js';
import { EventsRepository, SUMMARY_GROUPS, type SummaryGroupRow, type SummaryRows } from '../src/modules/events/repository.js';
import { DEFAULT_SUMMARY_OPTIONS, EventsService, type SummaryOptions } from '../src/modules/events/service.js';
import { summariseGroups } from '../src/modules/events/summary.js';
import { bearer, createTestApp, type TestContext } from './helpers/app.js';
import { engine } from './helpers/database.js';
import { seedEvents, type EventSpec, type Owner } from './helpers/events.js';
import { createMerchant, createPartner, createTag } from './helpers/factories.js';

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestApp();
});
afterAll(async () => ctx.app.close());

/** A small deterministic generator (mulberry32), so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TYPES = ['page_view', 'page_view', 'page_view', 'scroll', 'add_to_cart', 'purchase', 'lead', 'sign_up', 'subscribe', 'start_trial', 'z_custom', 'a_custom'];

/** Events over Paris's 25-hour day, some exactly on midnights and hours, with shared visitors and sessions. */
function mixedEvents(next: () => number, count: number): EventSpec[] {
  const start = Date.parse('2025-10-24T20:00:00Z');
  const pick = <T>(list: T[]): T => list[Math.floor(next() * list.length)] as T;
  const edges = ['2025-10-25T22:00:00Z', '2025-10-26T23:00:00Z', '2025-10-25T00:00:00Z', '2025-10-26T05:30:00Z', '2025-10-27T04:00:00Z'];
  return Array.from({ length: count }, (_, i) => {
    const type = pick(TYPES);
    const at = i < edges.length ? (edges[i] as string) : new Date(start + Math.floor(next() * 4 * 86_400_000)).toISOString();
    const valued = next() < 0.8;
    return {
      at,
      type,
      visitorId: `v${Math.floor(next() * 40)}`,
      sessionId: next() < 0.2 ? null : `s-${Math.floor(next() * 70)}`,
      value: valued ? Math.round(next() * 100_000_000) / 1_000_000 : null,
      currency: valued ? pick(['EUR', 'USD', 'EUR', null]) : null,
    };
  });
}

const normalise = (rows: SummaryRows | undefined) => rows && { ...rows, series: rows.series.map((b) => ({ ...b, start: new Date(b.start).toISOString() })) };

describe('summary: counted in the service or by the database, the same answer', () => {
  let repository: EventsRepository;
  let owner: Owner;
  let token: string;
  let otherTag: string;

  beforeAll(async () => {
    repository = new EventsRepository(ctx.database.db, ctx.database.run);
    const partner = await createPartner(ctx.app);
    const merchantId = await createMerchant(ctx.app, partner.token);
    token = partner.token;
    owner = { partnerId: partner.partnerId, merchantId, tagId: await createTag(ctx.app, partner.token, merchantId) };
    otherTag = await createTag(ctx.app, partner.token, merchantId);
    const next = random(20251026);
    await seedEvents(ctx.database, owner, mixedEvents(next, 500));
    await seedEvents(ctx.database, { ...owner, tagId: otherTag }, mixedEvents(next, 200));
    // Another merchant's events in the same hours: never counted.
    const strangerId = await createMerchant(ctx.app, partner.token);
    await seedEvents(ctx.database, { ...owner, merchantId: strangerId, tagId: await createTag(ctx.app, partner.token, strangerId) }, mixedEvents(next, 100));
  });

  const ranges: [string, string][] = [
    ['2025-10-24T00:00:00Z', '2025-10-29T00:00:00Z'],
    ['2025-10-25T03:17:00Z', '2025-10-27T19:45:30.500Z'],
  ];
  const cases = ['UTC', 'Europe/Paris', 'Asia/Kolkata', 'America/New_York'].flatMap((zone) =>
    (['day', 'hour'] as const).flatMap((interval) => ranges.flatMap(([from, to]) => [true, false].map((byTag) => ({ zone, interval, from, to, byTag })))),
  );

  it.each(cases)('$interval buckets in $zone, $from to $to, one tag: $byTag', async ({ zone, interval, from, to, byTag }) => {
    const range = { merchantId: owner.merchantId, tagId: byTag ? otherTag : undefined, from: new Date(from), to: new Date(to) };
    const inDatabase = await repository.summary(owner.partnerId, range, interval, zone);
    const groups = await repository.summaryGroups(owner.partnerId, range, interval, zone, 10_000);
    const inService = summariseGroups(groups, 10_000);
    expect(normalise(inService)).toEqual(normalise(inDatabase));
    expect(inDatabase.totals.events).toBeGreaterThan(0);
  });

  it('falls back to the database when a bucket holds more events than the service may count', async () => {
    const service = (options: SummaryOptions) =>
      new EventsService(repository, new MerchantsRepository(ctx.database.db, ctx.database.run), new MarktagsRepository(ctx.database.db), options);
    const query = { merchantId: owner.merchantId, from: '2025-10-24T00:00:00Z', to: '2025-10-29T00:00:00Z', interval: 'day' as const, timezone: 'Europe/Paris' };
    const counted = await service(DEFAULT_SUMMARY_OPTIONS).summary(owner.partnerId, query);
    // 700 events over 5 days: a limit of 50 events (up to 40 a bucket) cuts the buckets' reads short.
    expect(await service({ events: 50, buckets: 1000 }).summary(owner.partnerId, query)).toEqual(counted);
    expect(await service({ events: 200_000, buckets: 0 }).summary(owner.partnerId, query)).toEqual(counted);
    const groups = await repository.summaryGroups(owner.partnerId, { merchantId: owner.merchantId, from: new Date(query.from), to: new Date(query.to) }, 'day', 'Europe/Paris', 10);
    expect(groups.reduce((sum, group) => Math.max(sum, group.events ?? 0), 0)).toBeLessThanOrEqual(11);
    expect(summariseGroups(groups, 10)).toBeUndefined();
    expect(counted.totals.events).toBe(700);
    expect((await ctx.app.inject({ method: 'GET', url: `/v1/partners/events/summary?merchantId=${owner.merchantId}&from=${query.from}&to=${query.to}&timezone=Europe/Paris`, headers: bearer(token) })).json()).toEqual(counted);
  });

  it.runIf(engine === 'postgres')('reads every bucket through a merchant/time index of its partition, never a scan of the table', async () => {
    // What autovacuum does soon after (the events table asks for it every 1% of growth): the visibility map.
    await ctx.database.db.execute(sql`vacuum analyze events`);
    const [row] = await ctx.database.run<{ 'QUERY PLAN': { Plan: PlanNode }[] }>(
      { name: 'explain_summary_groups', text: `explain (analyze, format json) ${SUMMARY_GROUPS.text}` },
      [owner.partnerId, owner.merchantId, otherTag, new Date('2025-10-24T00:00:00Z'), new Date('2025-10-29T00:00:00Z'), 'day', 'Europe/Paris', 10_001],
    );
    // The scans that ran: each partition outside a bucket's range is pruned at run time (never executed).
    const scans = nodes(row?.['QUERY PLAN'][0]?.Plan).filter(
      (node) => (node['Relation Name']?.startsWith('events') === true || node['Index Name'] !== undefined) && (node['Actual Loops'] ?? 0) > 0,
    );
    expect(scans.length, JSON.stringify(scans)).toBeGreaterThan(0);
    // The covering index is gone (the summary moves to rollups): an index scan, not an index-only one.
    for (const scan of scans) {
      expect(scan['Node Type'], JSON.stringify(scan)).toMatch(/^Index (Only )?Scan$/);
      expect(scan['Index Name'], JSON.stringify(scan)).toMatch(/_merchant_(tag_)?time_idx$/);
    }
  });
});

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Heap Fetches'?: number;
  'Actual Loops'?: number;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode | undefined): PlanNode[] {
  return plan ? [plan, ...(plan.Plans ?? []).flatMap(nodes)] : [];
}

describe('summariseGroups', () => {
  const group = (start: number, type: string | null, events: number | null, extra: Partial<SummaryGroupRow> = {}): SummaryGroupRow => ({
    start,
    type,
    currency: null,
    events,
    value: null,
    visitors: null,
    sessions: null,
    ...extra,
  });

  it('adds values exactly, per currency, from conversions only', () => {
    const rows = summariseGroups(
      [
        group(0, 'purchase', 1, { currency: 'EUR', value: '0.100000', visitors: 'a' }),
        group(0, 'lead', 1, { currency: 'EUR', value: '0.200000', visitors: 'a' }),
        group(0, 'add_to_cart', 1, { currency: 'EUR', value: '5.000000', visitors: 'a' }),
        group(1, 'purchase', 2, { currency: 'USD', value: '-1.5', visitors: 'a b' }),
        group(1, 'purchase', 1, { currency: null, value: '7', visitors: 'c' }),
      ],
      100,
    );
    expect(rows?.values).toEqual([
      { currency: 'EUR', value: '0.300000' },
      { currency: 'USD', value: '-1.500000' },
    ]);
    expect(rows?.totals).toEqual({ events: 6, visitors: 3, sessions: 0, page_views: 0, conversions: 5 });
    expect(rows?.series.map((b) => b.visitors)).toEqual([1, 3]);
  });

  it('orders types by count, then by code point; keeps empty buckets', () => {
    const rows = summariseGroups(
      [group(0, 'b_x', 2, { visitors: 'v v' }), group(0, 'a_y', 2, { visitors: 'v w' }), group(0, 'ab', 2, { visitors: 'w w' }), group(5, null, null)],
      100,
    );
    expect(rows?.byType.map((t) => t.type)).toEqual(['a_y', 'ab', 'b_x']);
    expect(rows?.series).toEqual([
      { start: new Date(0), events: 6, visitors: 2, conversions: 0 },
      { start: new Date(5), events: 0, visitors: 0, conversions: 0 },
    ]);
  });

  it('gives up when a bucket holds more events than its limit', () => {
    expect(summariseGroups([group(0, 'page_view', 3, { visitors: 'a b c' })], 3)).toBeDefined();
    expect(summariseGroups([group(0, 'page_view', 3, { visitors: 'a b c' }), group(0, 'lead', 1, { visitors: 'a' })], 3)).toBeUndefined();
  });
});
