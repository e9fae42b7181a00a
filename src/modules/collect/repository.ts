import { eq, inArray, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { marktags, type TagStatus } from '../../db/schema/index.js';

/** What the collector needs to know about a tag. */
export interface CollectionTag {
  id: string;
  partnerId: string;
  merchantId: string;
  domain: string;
  preverified: boolean;
  isVerified: boolean;
  isConnected: boolean;
  status: TagStatus;
}

/** One event as it is written. */
export interface EventRecord {
  eventId: string;
  tagId: string;
  merchantId: string;
  partnerId: string;
  type: string;
  timestamp: Date;
  receivedAt: Date;
  url: string;
  referrer: string | null;
  title: string | null;
  visitorId: string;
  sessionId: string | null;
  value: number | null;
  currency: string | null;
  properties: Record<string, unknown> | null;
  deviceType: string | null;
  deviceBrowser: string | null;
  deviceOs: string | null;
}

const key = (tagId: string, eventId: string) => `${tagId}/${eventId}`;

/** Arbitrary, fixed: the advisory lock that orders event inserts. */
const EVENT_ID_LOCK = 7_305_826_413;

/**
 * The collector's storage. It serves anonymous browsers, so it finds tags by id alone; what a
 * browser may write is decided by the tag's own state and domain, checked before anything is written.
 */
export class CollectRepository {
  constructor(private readonly db: Database) {}

  async findTag(tagId: string, tx: Database = this.db): Promise<CollectionTag | undefined> {
    const [row] = await tx
      .select({
        id: marktags.id,
        partnerId: marktags.partnerId,
        merchantId: marktags.merchantId,
        domain: marktags.domain,
        preverified: marktags.preverified,
        isVerified: marktags.isVerified,
        isConnected: marktags.isConnected,
        status: marktags.status,
      })
      .from(marktags)
      .where(eq(marktags.id, tagId))
      .limit(1);
    return row;
  }

  /**
   * One statement for the whole batch: column arrays through unnest (a constant statement text,
   * 18 parameters whatever the size), replays skipped by the (tag, event) key. Returns the keys
   * actually inserted.
   */
  async insertEvents(rows: EventRecord[], tx: Database = this.db): Promise<{ inserted: Set<string>; maxId: bigint }> {
    const column = <T>(pick: (row: EventRecord) => T) => sql.param(rows.map(pick));
    const result: unknown = await tx.execute(sql`
      insert into events (event_id, tag_id, merchant_id, partner_id, type, timestamp, received_at, url, referrer, title,
                          visitor_id, session_id, value, currency, properties, device_type, device_browser, device_os)
      select * from unnest(
        ${column((r) => r.eventId)}::uuid[], ${column((r) => r.tagId)}::uuid[], ${column((r) => r.merchantId)}::uuid[],
        ${column((r) => r.partnerId)}::uuid[], ${column((r) => r.type)}::text[], ${column((r) => r.timestamp.toISOString())}::timestamptz[],
        ${column((r) => r.receivedAt.toISOString())}::timestamptz[], ${column((r) => r.url)}::text[], ${column((r) => r.referrer)}::text[],
        ${column((r) => r.title)}::text[], ${column((r) => r.visitorId)}::text[], ${column((r) => r.sessionId)}::text[],
        ${column((r) => r.value)}::numeric[], ${column((r) => r.currency)}::text[],
        ${column((r) => (r.properties === null ? null : JSON.stringify(r.properties)))}::jsonb[],
        ${column((r) => r.deviceType)}::text[], ${column((r) => r.deviceBrowser)}::text[], ${column((r) => r.deviceOs)}::text[]
      )
      on conflict (tag_id, event_id) do nothing
      returning id::text, tag_id, event_id`);
    const inserted = (result as { rows: { id: string; tag_id: string; event_id: string }[] }).rows;
    let maxId = 0n;
    for (const row of inserted) if (BigInt(row.id) > maxId) maxId = BigInt(row.id);
    return { inserted: new Set(inserted.map((row) => key(row.tag_id, row.event_id))), maxId };
  }

  /**
   * Serialises event inserts across processes until commit, so ids become visible in id order:
   * a reader that has seen id N will never later see a smaller one, and the live stream can
   * follow "id > last seen" without missing anything. Group commit keeps the hold to one
   * statement per batch.
   */
  async lockEventIds(tx: Database): Promise<void> {
    await tx.execute(sql`select pg_advisory_xact_lock(${EVENT_ID_LOCK})`);
  }

  /** First events make a verified tag active; lastEventAt moves at most once a minute. */
  async touchTags(tagIds: string[], tx: Database = this.db): Promise<void> {
    if (tagIds.length === 0) return;
    await tx
      .update(marktags)
      .set({
        lastEventAt: sql`now()`,
        status: sql`case when ${marktags.status} = 'waiting_for_events' then 'active' else ${marktags.status} end`,
      })
      .where(
        sql`${inArray(marktags.id, tagIds)} and (${marktags.lastEventAt} is null
          or ${marktags.lastEventAt} < now() - interval '1 minute' or ${marktags.status} = 'waiting_for_events')`,
      );
  }
}

export { key as eventKey };
