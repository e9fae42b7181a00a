import { eq } from 'drizzle-orm';
import type { Database, NamedStatement, RunStatement } from '../../db/client.js';
import { marktags, type IgnoreReason, type TagStatus } from '../../db/schema/index.js';

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

/** What a batch write did: the keys it found already stored (replays), and the highest id it gave. */
export interface BatchWritten {
  /** `eventKey(tagId, eventId)` of each row not written because its key was claimed before. */
  skipped: Set<string>;
  /** 0 when nothing was written. */
  maxId: bigint;
}

/** Ignored events of one tag for one reason since the last flush. */
export interface IgnoredCount {
  tagId: string;
  reason: IgnoreReason;
  events: number;
  lastAt: Date;
}

const ADD_IGNORED: NamedStatement = {
  name: 'marktag_add_ignored_events',
  text: `
    insert into ignored_events (tag_id, partner_id, reason, count, last_ignored_at)
    select m.id, m.partner_id, u.reason, u.count, u.last_at
    from unnest($1::uuid[], $2::text[], $3::bigint[], $4::timestamptz[]) as u(tag_id, reason, count, last_at)
    join marktags m on m.id = u.tag_id
    on conflict (tag_id, reason) do update
      set count = ignored_events.count + excluded.count,
          last_ignored_at = greatest(ignored_events.last_ignored_at, excluded.last_ignored_at)`,
};

/** Ids leave 20 bits to a row's ordinal within its transaction's one insert. */
export const MAX_ROWS_PER_STATEMENT = 1 << 20;

const key = (tagId: string, eventId: string) => `${tagId}/${eventId}`;

/**
 * The collector's storage. It serves anonymous browsers, so it finds tags by id alone; what a
 * browser may write is decided by the tag's own state and domain, checked before anything is written.
 */
export class CollectRepository {
  constructor(
    private readonly db: Database,
    private readonly run: RunStatement,
  ) {}

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
   * The whole batch in one prepared statement, so one round trip, one plan and one commit: the
   * keys claimed in the deduplication window (a replay claims none, and is skipped), the insert of
   * the claimed events (column arrays through unnest) and the touch of tags that need it. (The
   * streams' NOTIFY follows the commit, apart: see PostgresEventBus.)
   *
   * No lock: batches of any process commit in parallel. Ids are commit-ordered instead
   * (`event_id_base` + transaction id << 20 + ordinal; src/db/schema/events.ts), which is what
   * lets a stream take only the rows no earlier transaction can still add to.
   */
  async writeBatch(rows: EventRecord[], touch: string[]): Promise<BatchWritten> {
    // The ordinal is the low 20 bits of an id.
    if (rows.length >= MAX_ROWS_PER_STATEMENT) throw new Error(`at most ${MAX_ROWS_PER_STATEMENT - 1} events a statement`);
    const column = <T>(pick: (row: EventRecord) => T) => rows.map(pick);
    const params: unknown[] = [
      column((r) => r.eventId),
      column((r) => r.tagId),
      column((r) => r.merchantId),
      column((r) => r.partnerId),
      column((r) => r.type),
      column((r) => r.timestamp.toISOString()),
      column((r) => r.receivedAt.toISOString()),
      column((r) => r.url),
      column((r) => r.referrer),
      column((r) => r.title),
      column((r) => r.visitorId),
      column((r) => r.sessionId),
      column((r) => r.value),
      column((r) => r.currency),
      column((r) => (r.properties === null ? null : JSON.stringify(r.properties))),
      column((r) => r.deviceType),
      column((r) => r.deviceBrowser),
      column((r) => r.deviceOs),
      ...(touch.length > 0 ? [touch] : []),
    ];
    // One row back whatever the batch's size: the keys already stored (usually none) and the highest id.
    const [written] = await this.run<{ max_id: string | null; skipped: string[] }>(writeStatement(touch.length > 0), params);
    return { skipped: new Set(written?.skipped ?? []), maxId: BigInt(written?.max_id ?? 0) };
  }

  /**
   * Adds counts of ignored events, one row per (tag, reason), in one statement. Tags deleted since
   * their events were counted are skipped (the join), so one of them cannot fail the others' counts.
   */
  async addIgnored(counts: IgnoredCount[]): Promise<void> {
    if (counts.length === 0) return;
    await this.run(ADD_IGNORED, [
      counts.map((c) => c.tagId),
      counts.map((c) => c.reason),
      counts.map((c) => c.events),
      counts.map((c) => c.lastAt.toISOString()),
    ]);
  }

  /** Events as the collector writes them, for tests and tools that load data directly. */
  async insertEvents(rows: EventRecord[]): Promise<BatchWritten> {
    return this.writeBatch(rows, []);
  }

}

/** The two shapes of the batch statement (with or without a tag touch), each prepared once. */
function writeStatement(touch: boolean): NamedStatement {
  const name = `marktag_write_events${touch ? '_t' : ''}`;
  const touchTags = touch
    ? `, touched as (
        update marktags set last_event_at = now(),
          status = case when status = 'waiting_for_events' then 'active' else status end
        where id = any($19::uuid[])
          and (last_event_at is null or last_event_at < now() - interval '1 minute' or status = 'waiting_for_events')
        returning 1)`
    : '';
  return {
    name,
    text: `
      with u as materialized (
        select distinct on (tag_id, event_id) *
        from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::timestamptz[], $7::timestamptz[],
          $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::numeric[], $14::text[], $15::jsonb[],
          $16::text[], $17::text[], $18::text[]) with ordinality
          as u(event_id, tag_id, merchant_id, partner_id, type, timestamp, received_at, url, referrer, title,
               visitor_id, session_id, value, currency, properties, device_type, device_browser, device_os, n)
        order by tag_id, event_id, n
      ),
      claimed as (
        insert into event_keys (tag_id, event_id, received_at)
        select tag_id, event_id, received_at from u
        on conflict do nothing
        returning tag_id, event_id
      ),
      ins as (
        insert into events (id, event_id, tag_id, merchant_id, partner_id, type, timestamp, received_at, url, referrer, title,
                            visitor_id, session_id, value, currency, properties, device_type, device_browser, device_os)
        select b.base + (pg_current_xact_id()::text::bigint << 20) + u.n, u.event_id, u.tag_id, u.merchant_id, u.partner_id,
               u.type, u.timestamp, u.received_at, u.url, u.referrer, u.title, u.visitor_id, u.session_id, u.value, u.currency,
               u.properties, u.device_type, u.device_browser, u.device_os
        from u join claimed c on c.tag_id = u.tag_id and c.event_id = u.event_id cross join event_id_base b
        returning id
      )${touchTags}
      -- skipped: in eventKey's shape (tag id / event id), for the batch writer to match.
      select (select max(id) from ins)::text as max_id,
             array(select u.tag_id || '/' || u.event_id from u
                   where not exists (select 1 from claimed c where c.tag_id = u.tag_id and c.event_id = u.event_id)) as skipped`,
  };
}

export { key as eventKey };
