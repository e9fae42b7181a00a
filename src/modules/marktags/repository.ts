import { and, asc, count, eq, inArray, isNull, lt, lte, ne, or, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { ignoredEvents, marktags, type IgnoredEventsRow, type MarktagRow, type TagStatus } from '../../db/schema/index.js';

export interface NewMarktag {
  id: string;
  merchantId: string;
  domain: string;
  rootDomain: string;
  preverified: boolean;
  status: TagStatus;
  recordName: string;
  recordValue: string;
  trackingHost: string | null;
}

/**
 * When a tag is due for a re-check: `afterMs` since its last check, less a share of `spread`
 * (0 to 1) fixed per tag, so that tags verified together fall due spread over the interval; and
 * never when checked at or after `notCheckedSince` (this pass already did it).
 */
export interface RecheckDue {
  afterMs: number;
  spread: number;
  notCheckedSince: string;
}

export interface Verification {
  hostname: string;
  trackingHost: string;
}

/** The per-tag share of the spread, in [0, 1), fixed by the tag's id. */
const SPREAD_SHARE = sql`((hashtext(${marktags.id}::text) & 1023)::float8 / 1024)`;

/** Verified custom tags due for a re-check (see RecheckDue), on the database's clock: what the re-verifier works through. */
function isDueForRecheck(due: Pick<RecheckDue, 'afterMs' | 'spread'>): SQL | undefined {
  const earliest = due.afterMs * (1 - due.spread);
  return and(
    eq(marktags.isVerified, true),
    eq(marktags.isConnected, true),
    eq(marktags.preverified, false),
    or(
      isNull(marktags.lastCheckedAt),
      and(
        // The index's range first; then each tag's own due time within the spread.
        lte(marktags.lastCheckedAt, sql`now() - ${earliest}::float8 * interval '1 millisecond'`),
        lte(marktags.lastCheckedAt, sql`now() - ${due.afterMs}::float8 * (1 - ${due.spread}::float8 * ${SPREAD_SHARE}) * interval '1 millisecond'`),
      ),
    ),
  );
}

/** Marktags, confined to one partner, except the two cross-partner questions verification must ask. */
export class MarktagsRepository {
  constructor(private readonly db: Database) {}

  /** Inserts unless the merchant already has a tag for this domain; the unique key settles races. */
  async insertIfAbsent(partnerId: string, tag: NewMarktag, tx: Database = this.db): Promise<MarktagRow | undefined> {
    const live = tag.preverified;
    const [row] = await tx
      .insert(marktags)
      .values({
        ...tag,
        partnerId,
        hostname: tag.domain,
        isVerified: live,
        isConnected: live,
        verifiedAt: live ? sql`now()` : null,
      })
      .onConflictDoNothing({ target: [marktags.merchantId, marktags.domain] })
      .returning();
    return row;
  }

  async findByMerchantDomain(partnerId: string, merchantId: string, domain: string, tx: Database = this.db): Promise<MarktagRow | undefined> {
    const [row] = await tx
      .select()
      .from(marktags)
      .where(and(eq(marktags.partnerId, partnerId), eq(marktags.merchantId, merchantId), eq(marktags.domain, domain)))
      .limit(1);
    return row;
  }

  async find(partnerId: string, tagId: string, tx: Database = this.db): Promise<MarktagRow | undefined> {
    const [row] = await tx
      .select()
      .from(marktags)
      .where(and(eq(marktags.partnerId, partnerId), eq(marktags.id, tagId)))
      .limit(1);
    return row;
  }

  /** The tag's counts of events the collector answered without storing, by reason. */
  async ignoredEvents(partnerId: string, tagId: string, tx: Database = this.db): Promise<Pick<IgnoredEventsRow, 'reason' | 'count' | 'lastIgnoredAt'>[]> {
    return tx
      .select({ reason: ignoredEvents.reason, count: ignoredEvents.count, lastIgnoredAt: ignoredEvents.lastIgnoredAt })
      .from(ignoredEvents)
      .where(and(eq(ignoredEvents.partnerId, partnerId), eq(ignoredEvents.tagId, tagId)));
  }

  /**
   * Who owns a tag, whoever asks. Verification is documented to tell "no such tag" (404) from
   * "not yours" (403), so it must look beyond the caller's own tags; it learns nothing else.
   */
  async ownerOf(tagId: string, tx: Database = this.db): Promise<string | undefined> {
    const [row] = await tx.select({ partnerId: marktags.partnerId }).from(marktags).where(eq(marktags.id, tagId)).limit(1);
    return row?.partnerId;
  }

  /** Live tags of other partners on a registrable domain: a shared CNAME target cannot tell owners apart. */
  async liveTagsOfOthers(partnerId: string, rootDomain: string, tx: Database = this.db): Promise<string[]> {
    const rows = await tx
      .select({ id: marktags.id })
      .from(marktags)
      .where(
        and(
          eq(marktags.rootDomain, rootDomain),
          eq(marktags.isVerified, true),
          eq(marktags.isConnected, true),
          ne(marktags.partnerId, partnerId),
        ),
      );
    return rows.map((row) => row.id);
  }

  async listForMerchants(partnerId: string, merchantIds: string[], tx: Database = this.db): Promise<MarktagRow[]> {
    if (merchantIds.length === 0) return [];
    return tx
      .select()
      .from(marktags)
      .where(and(eq(marktags.partnerId, partnerId), inArray(marktags.merchantId, merchantIds)))
      .orderBy(asc(marktags.createdAt), asc(marktags.id));
  }

  /** Verified: an active tag stays active, any other becomes waiting_for_events. */
  async markVerified(partnerId: string, tagId: string, verification: Verification, tx: Database = this.db): Promise<void> {
    await tx
      .update(marktags)
      .set({
        hostname: verification.hostname,
        trackingHost: verification.trackingHost,
        isVerified: true,
        isConnected: true,
        status: sql`case when ${marktags.status} = 'active' then 'active' else 'waiting_for_events' end`,
        verifiedAt: sql`now()`,
        recheckFailures: 0,
        lastCheckedAt: sql`now()`,
        updatedAt: sql`now()`,
      })
      .where(and(eq(marktags.partnerId, partnerId), eq(marktags.id, tagId)));
  }

  /** A preverified tag only learns where it is installed. */
  async setHostname(partnerId: string, tagId: string, hostname: string, tx: Database = this.db): Promise<void> {
    await tx
      .update(marktags)
      .set({ hostname, updatedAt: sql`now()` })
      .where(and(eq(marktags.partnerId, partnerId), eq(marktags.id, tagId)));
  }

  /**
   * Disconnects tags that lost their domain to a proven owner. These belong to other partners by
   * definition: it is the one write that crosses partners, and only ever switches tags off.
   */
  async disconnectLostTags(tagIds: string[], tx: Database = this.db): Promise<void> {
    if (tagIds.length === 0) return;
    await tx
      .update(marktags)
      .set({ isConnected: false, status: 'inactive', updatedAt: sql`now()` })
      .where(inArray(marktags.id, tagIds));
  }

  /** Serialises ownership decisions on one registrable domain across processes. */
  async lockDomain(rootDomain: string, tx: Database): Promise<void> {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`marktag-domain:${rootDomain}`}, 0))`);
  }

  // --- background re-verification (operator scope: all partners unless one is named) ---

  /** The database's clock now, to the microsecond: where a re-verification pass starts. */
  async databaseNow(tx: Database = this.db): Promise<string> {
    const result: unknown = await tx.execute(sql`select now()::text as now`);
    const now = (result as { rows: { now: string }[] }).rows[0]?.now;
    if (now === undefined) throw new Error('select now() returned no row');
    return now;
  }

  /**
   * Claims up to `limit` live custom tags due for a re-check, least recently checked first, and
   * marks them checked now, in one statement: neither another process nor this pass's next page
   * claims them again. Rows another process is claiming are skipped, not waited for. Measured on
   * the database's clock (the one that wrote lastCheckedAt).
   */
  async claimDueForRecheck(due: RecheckDue, limit: number, partnerId?: string, tx: Database = this.db): Promise<MarktagRow[]> {
    const candidates = tx
      .select({ id: marktags.id })
      .from(marktags)
      .where(
        and(
          isDueForRecheck(due),
          // Not already claimed in this pass.
          or(isNull(marktags.lastCheckedAt), lt(marktags.lastCheckedAt, sql`${due.notCheckedSince}::timestamptz`)),
          partnerId === undefined ? undefined : eq(marktags.partnerId, partnerId),
        ),
      )
      .orderBy(sql`${marktags.lastCheckedAt} asc nulls first`)
      .limit(limit)
      .for('update', { skipLocked: true });
    return tx.update(marktags).set({ lastCheckedAt: sql`now()` }).where(inArray(marktags.id, candidates)).returning();
  }

  /** How many tags are due for a re-check now (the re-verification backlog). */
  async countDueForRecheck(due: Pick<RecheckDue, 'afterMs' | 'spread'>, tx: Database = this.db): Promise<number> {
    const [row] = await tx.select({ due: count() }).from(marktags).where(isDueForRecheck(due));
    return row?.due ?? 0;
  }

  async recordRecheck(
    partnerId: string,
    tagId: string,
    outcome: 'passed' | 'failed' | 'inconclusive',
    failuresToDisconnect: number,
    tx: Database = this.db,
  ): Promise<MarktagRow | undefined> {
    const failures =
      outcome === 'passed' ? sql`0` : outcome === 'failed' ? sql`${marktags.recheckFailures} + 1` : sql`${marktags.recheckFailures}`;
    const [row] = await tx
      .update(marktags)
      .set({
        recheckFailures: failures,
        lastCheckedAt: sql`now()`,
        isConnected: sql`${failures} < ${failuresToDisconnect}`,
        status: sql`case when ${failures} >= ${failuresToDisconnect} then 'inactive' else ${marktags.status} end`,
        updatedAt: sql`now()`,
      })
      // Only a tag that is still live: a verify or disconnect in between wins.
      .where(and(eq(marktags.partnerId, partnerId), eq(marktags.id, tagId), eq(marktags.isConnected, true)))
      .returning();
    return row;
  }
}
