import { randomUUID } from 'node:crypto';
import { eq, inArray, sql } from 'drizzle-orm';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres, type DatabaseHandle } from '../src/db/client.js';
import { marktags } from '../src/db/schema/index.js';
import type { DnsAnswer, DnsResolver } from '../src/modules/marktags/dns-resolver.js';
import { MarktagsRepository } from '../src/modules/marktags/repository.js';
import { Reverifier, type ReverifierOptions } from '../src/modules/marktags/reverifier.js';
import { createTestApp, type TestContext } from './helpers/app.js';
import { engine, queryRows } from './helpers/database.js';
import { createMerchant, createPartner } from './helpers/factories.js';

const TARGET = 'mtag.markopolo.ai';
const silent = Fastify({ logger: false }).log;

let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestApp({ MARKTAG_REVERIFY_INTERVAL: 'off' });
});
afterAll(async () => ctx.app.close());

/**
 * DNS that answers every CNAME with the target after `delayMs`, counting look-ups in flight; a
 * look-up may first run `during` (a query on the database, while the reverifier waits on DNS).
 */
class CountingDns implements DnsResolver {
  inFlight = 0;
  maxInFlight = 0;
  readonly looked: string[] = [];

  constructor(
    private readonly delayMs: number,
    private readonly during?: (host: string) => Promise<void>,
  ) {}

  session() {
    return {
      cname: async (host: string): Promise<DnsAnswer> => {
        this.inFlight++;
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
        try {
          await this.during?.(host);
          await new Promise((resolve) => setTimeout(resolve, this.delayMs));
          this.looked.push(host);
          return { kind: 'records', values: [TARGET] };
        } finally {
          this.inFlight--;
        }
      },
      txt: (): Promise<DnsAnswer> => Promise.resolve({ kind: 'nxdomain' }),
      close: () => undefined,
    };
  }
}

/** A partner with `count` verified custom tags, last checked `checkedAgoMs` ago (on the database's clock). */
async function seedTags(count: number, checkedAgoMs: number): Promise<{ partnerId: string; tagIds: string[] }> {
  const partner = await createPartner(ctx.app);
  const merchantId = await createMerchant(ctx.app, partner.token);
  const rows = Array.from({ length: count }, (_, i) => {
    const domain = `r${i}-${randomUUID().slice(0, 8)}.test`;
    return {
      id: randomUUID(),
      partnerId: partner.partnerId,
      merchantId,
      domain,
      rootDomain: domain,
      hostname: domain,
      preverified: false,
      status: 'waiting_for_events' as const,
      isConnected: true,
      isVerified: true,
      recordName: 'mtag',
      recordValue: TARGET,
      trackingHost: `mtag.${domain}`,
      verifiedAt: sql`now()`,
      lastCheckedAt: sql`now() - ${checkedAgoMs} * interval '1 millisecond'`,
      updatedAt: sql`now() - ${checkedAgoMs} * interval '1 millisecond'`,
    };
  });
  for (let i = 0; i < rows.length; i += 500) await ctx.database.db.insert(marktags).values(rows.slice(i, i + 500));
  return { partnerId: partner.partnerId, tagIds: rows.map((row) => row.id) };
}

/** Tags of the list whose re-check outcome was recorded within the last `withinMs` (a claim alone does not count). */
async function checkedWithin(database: DatabaseHandle, tagIds: string[], withinMs: number): Promise<number> {
  const [row] = await queryRows<{ count: number }>(
    database,
    sql`select count(*)::int as count from ${marktags} where ${inArray(marktags.id, tagIds)}
        and ${marktags.updatedAt} > now() - ${withinMs} * interval '1 millisecond'`,
  );
  return row?.count ?? 0;
}

function reverifier(database: DatabaseHandle, dns: DnsResolver, options: Partial<ReverifierOptions>): Reverifier {
  return new Reverifier(new MarktagsRepository(database.db), dns, { intervalMs: 60_000, dnsTimeoutMs: 5000, ...options }, silent);
}

describe('background re-verification at scale', () => {
  it('checks all of 1,200 due tags within one interval, at most `concurrency` DNS look-ups at once', { timeout: 60_000 }, async () => {
    const intervalMs = 20_000;
    const { partnerId, tagIds } = await seedTags(1200, intervalMs);
    const dns = new CountingDns(2);
    const background = reverifier(ctx.database, dns, { intervalMs, concurrency: 8, partnerId });
    const started = Date.now();
    background.start();
    try {
      while ((await checkedWithin(ctx.database, tagIds, intervalMs)) < tagIds.length && Date.now() - started < intervalMs) {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const rows = await queryRows<{ recheck_failures: number }>(
        ctx.database,
        sql`select recheck_failures from ${marktags} where ${marktags.partnerId} = ${partnerId}`,
      );
      expect(rows).toHaveLength(1200);
      expect(await checkedWithin(ctx.database, tagIds, Date.now() - started + 1000)).toBe(1200);
      expect(new Set(dns.looked).size).toBe(1200);
      expect(dns.maxInFlight).toBeLessThanOrEqual(8);
      expect(dns.maxInFlight).toBeGreaterThan(1);
    } finally {
      await background.stop();
    }
  });

  it('spreads the due times of tags checked together over the interval', async () => {
    const intervalMs = 3_600_000;
    // Checked together 80% of an interval ago: due for about a quarter of them (75%–95% spread).
    const { partnerId, tagIds } = await seedTags(1200, intervalMs * 0.8);
    const dns = new CountingDns(0);
    const summary = await reverifier(ctx.database, dns, { intervalMs, concurrency: 16 }).runOnce({ partnerId });
    expect(summary.checked).toBeGreaterThan(1200 * 0.17);
    expect(summary.checked).toBeLessThan(1200 * 0.33);
    expect(await checkedWithin(ctx.database, tagIds, 60_000)).toBe(summary.checked);
  });

  it('lets two processes share the work: each due tag is checked once', { timeout: 30_000 }, async () => {
    const { partnerId, tagIds } = await seedTags(300, 0);
    const dns = new CountingDns(1);
    const [first, second] = [reverifier(ctx.database, dns, { pageSize: 20 }), reverifier(ctx.database, dns, { pageSize: 20 })];
    const summaries = await Promise.all([first.runOnce({ partnerId, dueAfterMs: 0 }), second.runOnce({ partnerId, dueAfterMs: 0 })]);
    expect(summaries.reduce((sum, s) => sum + s.checked, 0)).toBe(300);
    expect(dns.looked).toHaveLength(300);
    expect(new Set(dns.looked).size).toBe(300);
    expect(await checkedWithin(ctx.database, tagIds, 60_000)).toBe(300);
    // All checked in this pass: nothing is due again at once.
    expect((await first.runOnce({ partnerId, dueAfterMs: 60_000 })).checked).toBe(0);
  });

  it.runIf(engine === 'postgres')('holds no database connection while DNS answers (a pool of one still serves other queries)', { timeout: 60_000 }, async () => {
    const { partnerId } = await seedTags(60, 0);
    const single = openPostgres(process.env.TEST_DATABASE_URL ?? '', { max: 1, connectionTimeoutMillis: 2000 });
    const probes: string[] = [];
    try {
      // Every tenth look-up asks the same one-connection pool for something while the reverifier waits on DNS.
      let lookups = 0;
      const dns = new CountingDns(20, async () => {
        if (lookups++ % 10 !== 0) return;
        try {
          await single.db.select({ id: marktags.id }).from(marktags).where(eq(marktags.partnerId, partnerId)).limit(1);
          probes.push('answered');
        } catch (error) {
          probes.push(`failed: ${(error as Error).message}`);
        }
      });
      const summary = await reverifier(single, dns, { concurrency: 4, pageSize: 25 }).runOnce({ partnerId, dueAfterMs: 0 });
      expect(summary).toMatchObject({ checked: 60, passed: 60 });
      expect(probes.length).toBeGreaterThanOrEqual(6);
      expect(probes.every((probe) => probe === 'answered'), probes.join('; ')).toBe(true);
    } finally {
      await single.close();
    }
  });
});
