import { eq } from 'drizzle-orm';
import type { Database, NamedStatement, RunStatement } from '../../db/client.js';
import { marktags, type IgnoreReason, type TagStatus } from '../../db/schema/index.js';
import { CHANNEL } from '../events/event-bus.js';

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

const key = (tagId: string, eventId: string) => `${tagId}/${eventId}`;

/** Arbitrary, fixed: the advisory lock that orders event inserts. */
const EVENT_ID_LOCK = 7_305_826_413;

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
   * advisory lock that orders event ids, the insert (column arrays through unnest; replays skipped
   * by the (tag, event) key), the touch of tags that need it, and, on PostgreSQL, the NOTIFY that
   * every process's stream hub hears at commit.
   *
   * The lock is taken before any row is inserted (the insert reads the one-row lock CTE first) and
   * held until commit: ids therefore become visible in id order across processes, and a reader
   * that has seen id N never later sees a smaller one.
   */
  async writeBatch(rows: EventRecord[], touch: string[], notify: boolean): Promise<{ inserted: Set<string>; maxId: bigint }> {
    const column = <T>(pick: (row: EventRecord) => T) => rows.map(pick);
    const params: unknown[] = [
      EVENT_ID_LOCK,
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
    const inserted = await this.run<{ id: string; tag_id: string; event_id: string }>(writeStatement(touch.length > 0, notify), params);
    let maxId = 0n;
    for (const row of inserted) if (BigInt(row.id) > maxId) maxId = BigInt(row.id);
    return { inserted: new Set(inserted.map((row) => key(row.tag_id, row.event_id))), maxId };
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
  async insertEvents(rows: EventRecord[]): Promise<{ inserted: Set<string>; maxId: bigint }> {
    return this.writeBatch(rows, [], false);
  }

}

/** The four shapes of the batch statement (with or without a tag touch, with or without NOTIFY), each prepared once. */
function writeStatement(touch: boolean, notify: boolean): NamedStatement {
  const name = `marktag_write_events_${touch ? 't' : ''}${notify ? 'n' : ''}`;
  const touchTags = touch
    ? `, touched as (
        update marktags set last_event_at = now(),
          status = case when status = 'waiting_for_events' then 'active' else status end
        where id = any($20::uuid[])
          and (last_event_at is null or last_event_at < now() - interval '1 minute' or status = 'waiting_for_events')
        returning 1)`
    : '';
  const notification = notify
    ? `, (select count(*) from (select pg_notify('${CHANNEL}', max(id)::text) from ins having count(*) > 0) n) as notified`
    : '';
  return {
    name,
    text: `
      with lock as (select pg_advisory_xact_lock($1::bigint)),
      ins as (
        insert into events (event_id, tag_id, merchant_id, partner_id, type, timestamp, received_at, url, referrer, title,
                            visitor_id, session_id, value, currency, properties, device_type, device_browser, device_os)
        select u.* from lock, unnest($2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::text[], $7::timestamptz[], $8::timestamptz[],
          $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::numeric[], $15::text[], $16::jsonb[],
          $17::text[], $18::text[], $19::text[]) as u
        on conflict (tag_id, event_id) do nothing
        returning id, tag_id, event_id
      )${touchTags}
      select id::text, tag_id, event_id${notification} from ins`,
  };
}

export { key as eventKey };
