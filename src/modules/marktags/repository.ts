import { and, asc, eq, inArray, isNull, lte, ne, or, sql } from 'drizzle-orm';
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

export interface Verification {
  hostname: string;
  trackingHost: string;
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

  /** Live custom tags not checked for `dueAfterMs`, measured on the database's clock (the one that wrote lastCheckedAt). */
  async dueForRecheck(dueAfterMs: number, limit: number, partnerId?: string, tx: Database = this.db): Promise<MarktagRow[]> {
    return tx
      .select()
      .from(marktags)
      .where(
        and(
          eq(marktags.isVerified, true),
          eq(marktags.isConnected, true),
          eq(marktags.preverified, false),
          or(isNull(marktags.lastCheckedAt), lte(marktags.lastCheckedAt, sql`now() - ${dueAfterMs} * interval '1 millisecond'`)),
          partnerId === undefined ? undefined : eq(marktags.partnerId, partnerId),
        ),
      )
      .orderBy(sql`${marktags.lastCheckedAt} asc nulls first`)
      .limit(limit);
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
