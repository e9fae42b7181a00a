import { eq } from 'drizzle-orm';
import { arrayLiteral, type ArrayItem } from '../../db/array-literal.js';
import type { Database, NamedStatement, RunStatement } from '../../db/client.js';
import { DIRECT } from '../attribution/attribute.js';
import { marktags, merchants, type IgnoreReason, type TagStatus } from '../../db/schema/index.js';

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
  /** The merchant's own query parameters kept in stored URLs. */
  keepQueryParams: string[];
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
  /** Null for a server event sent without one. */
  url: string | null;
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
  source: EventSource;
  /** Sent with the event; else the visitor's linked user, found by the write. */
  userId: string | null;
  country: string | null;
  /** What the event's own URL and referrer say; the write gives it session scope (see writeStatement). */
  attribution: StoredAttribution;
  /** The event brings its own campaign (utm or click id), or has no session: its attribution starts afresh. */
  ownAttribution: boolean;
  /** Hashes of the user's email and phone, when this event identifies (kept on the user's identity record). */
  emailSha256: string | null;
  phoneSha256: string | null;
}

export type EventSource = 'browser' | 'server';

/** The attribution columns of an event and of its session. */
export interface StoredAttribution {
  source: string;
  medium: string;
  campaign: string | null;
  term: string | null;
  content: string | null;
  channel: string;
  clickIdType: string | null;
  referrerHost: string | null;
  landingPage: string | null;
}

/** A visit from nowhere: no referrer, no campaign (GA4's Direct). */
export const DIRECT_ATTRIBUTION: StoredAttribution = DIRECT;

/** What an event without identity, country or campaign adds to its columns: for tools and tests that write rows directly. */
export const PLAIN_EVENT_FIELDS = {
  source: 'browser',
  userId: null,
  country: null,
  attribution: DIRECT_ATTRIBUTION,
  ownAttribution: false,
  emailSha256: null,
  phoneSha256: null,
} as const satisfies Partial<EventRecord>;

/** The attribution columns, in the order of StoredAttribution (events and sessions name them alike). */
const ATTRIBUTION_COLUMNS = ['attr_source', 'attr_medium', 'attr_campaign', 'attr_term', 'attr_content', 'channel', 'click_id_type', 'referrer_host', 'landing_page'] as const;
const ATTRIBUTION_FIELDS = ['source', 'medium', 'campaign', 'term', 'content', 'channel', 'clickIdType', 'referrerHost', 'landingPage'] as const satisfies readonly (keyof StoredAttribution)[];

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
const sessionKey = (row: EventRecord) => `${row.merchantId}/${row.sessionId ?? ''}`;
const visitorKey = (row: EventRecord) => `${row.merchantId}/${row.visitorId}`;

/** The first row of each key (tag, eventId), in order: a later one is a duplicate by definition, and writeBatch takes distinct keys. */
export function firstOfEachKey(rows: Iterable<EventRecord>): EventRecord[] {
  const seen = new Set<string>();
  const first: EventRecord[] = [];
  for (const row of rows) {
    const rowKey = key(row.tagId, row.eventId);
    if (!seen.has(rowKey)) {
      seen.add(rowKey);
      first.push(row);
    }
  }
  return first;
}

/** Sessions and links remembered by a process at most: a few MB. */
const KNOWN_LIMIT = 50_000;

/** A set that starts afresh when full: what it forgets is only written again. */
class BoundedSet {
  private items = new Set<string>();
  constructor(private readonly limit: number) {}
  has(item: string): boolean {
    return this.items.has(item);
  }
  add(item: string): void {
    if (this.items.size >= this.limit) this.items = new Set();
    this.items.add(item);
  }
}

class BoundedMap {
  private items = new Map<string, string>();
  constructor(private readonly limit: number) {}
  get(key: string): string | undefined {
    return this.items.get(key);
  }
  set(key: string, value: string): void {
    if (this.items.size >= this.limit && !this.items.has(key)) this.items = new Map();
    this.items.set(key, value);
  }
}

/**
 * The collector's storage. It serves anonymous browsers, so it finds tags by id alone; what a
 * browser may write is decided by the tag's own state and domain, checked before anything is written.
 */
export class CollectRepository {
  /**
   * Sessions and visitor links this process has written or seen written, so that a batch of known
   * sessions without campaigns leaves their writes out of its statement (see WriteShape). Only a
   * hint: a session or link missing here is written again, which changes nothing.
   */
  private readonly knownSessions = new BoundedSet(KNOWN_LIMIT);
  private readonly knownLinks = new BoundedMap(KNOWN_LIMIT);

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
        keepQueryParams: merchants.keepQueryParams,
      })
      .from(marktags)
      .innerJoin(merchants, eq(merchants.id, marktags.merchantId))
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
   *
   * The rows' keys (tag, eventId) must be distinct: the batch writer keeps a key's first occurrence.
   */
  async writeBatch(rows: EventRecord[], touch: string[]): Promise<BatchWritten> {
    // The ordinal is the low 20 bits of an id.
    if (rows.length >= MAX_ROWS_PER_STATEMENT) throw new Error(`at most ${MAX_ROWS_PER_STATEMENT - 1} events a statement`);
    // Array literals built here rather than by the driver (see arrayLiteral). A column null in
    // every row goes as a null array: unnest pads it with nulls, so there is no array to write or
    // read (most columns of most batches: no referrer, value, user, country, campaign).
    const column = (pick: (row: EventRecord) => ArrayItem) => arrayLiteral(rows.map(pick));
    const sparse = (pick: (row: EventRecord) => ArrayItem) => (rows.some((row) => pick(row) !== null) ? column(pick) : null);
    const params: unknown[] = [
      column((r) => r.eventId),
      column((r) => r.tagId),
      column((r) => r.merchantId),
      column((r) => r.partnerId),
      column((r) => r.type),
      column((r) => r.timestamp.toISOString()),
      column((r) => r.receivedAt.toISOString()),
      sparse((r) => r.url),
      sparse((r) => r.referrer),
      sparse((r) => r.title),
      column((r) => r.visitorId),
      sparse((r) => r.sessionId),
      sparse((r) => r.value),
      sparse((r) => r.currency),
      sparse((r) => (r.properties === null ? null : JSON.stringify(r.properties))),
      sparse((r) => r.deviceType),
      sparse((r) => r.deviceBrowser),
      sparse((r) => r.deviceOs),
      column((r) => r.source),
      sparse((r) => r.userId),
      sparse((r) => r.country),
      column((r) => r.ownAttribution),
      sparse((r) => r.emailSha256),
      sparse((r) => r.phoneSha256),
      ...ATTRIBUTION_FIELDS.map((field) => sparse((r) => r.attribution[field])),
      ...(touch.length > 0 ? [arrayLiteral(touch)] : []),
    ];
    const sessionKeys = rows.map(sessionKey);
    // One row back whatever the batch's size: the keys already stored (usually none) and the highest id.
    const shape: WriteShape = {
      touch: touch.length > 0,
      sessions: rows.some((r, i) => r.sessionId !== null && (r.ownAttribution || !this.knownSessions.has(sessionKeys[i] ?? ''))),
      links: rows.some((r) => r.userId !== null && this.knownLinks.get(visitorKey(r)) !== r.userId),
      identities: rows.some((r) => r.userId !== null && (r.emailSha256 !== null || r.phoneSha256 !== null)),
    };
    const [written] = await this.run<{ max_id: string | null; skipped: string[] }>(preparedWrite(shape), params);
    for (const [i, row] of rows.entries()) {
      if (row.sessionId !== null) this.knownSessions.add(sessionKeys[i] ?? '');
      if (row.userId !== null) this.knownLinks.set(visitorKey(row), row.userId);
    }
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
    return this.writeBatch(firstOfEachKey(rows), []);
  }

}

const FIRST_ATTRIBUTION_PARAM = 25;
const TOUCH_PARAM = FIRST_ATTRIBUTION_PARAM + ATTRIBUTION_COLUMNS.length;
const list = (f: (column: string) => string) => ATTRIBUTION_COLUMNS.map(f).join(', ');

/**
 * Every row's attribution and user when a session may start or move in the batch: each row takes
 * the latest anchor before it in its session (window functions over event time, then batch order).
 */
function windowedResolution(session: (alias?: string) => string): string {
  return `anchored as (
        select f.*, f.session_id is null or f.own or (not f.known and row_number() over (${session('f.')}) = 1) as anchor
        from u f join claimed c on c.tag_id = f.tag_id and c.event_id = f.event_id
      ),
      grouped as (
        select *, count(*) filter (where anchor) over (${session()} rows unbounded preceding) as grp from anchored
      ),
      resolved as materialized (
        select g.*, coalesce(g.user_id, g.linked_user_id) as r_user_id,
               ${list((c) => `case when g.grp = 0 then g.p_${c} else first_value(g.e_${c}) over (partition by g.merchant_id, g.session_id, g.grp order by g.timestamp, g.n) end as r_${c}`)}
        from grouped g
      ),`;
}

/**
 * The common case, without windows: every session of the batch is known and no event brings a
 * campaign, so an event in a session takes the session's attribution and one without its own. (A
 * session the process believed known but the database lacks leaves its events their own.)
 */
const knownSessionResolution = `resolved as (
        select f.*, coalesce(f.user_id, f.linked_user_id) as r_user_id,
               ${list((c) => `case when f.known then f.p_${c} else f.e_${c} end as r_${c}`)}
        from u f join claimed c on c.tag_id = f.tag_id and c.event_id = f.event_id
      ),`;

/** Which of the batch statement's optional writes a batch needs: each combination is its own prepared statement. */
export interface WriteShape {
  /** Tags to touch (lastEventAt, the first event's activation). */
  touch: boolean;
  /** A session may be new, or an event brings its own campaign: the session's row is written. */
  sessions: boolean;
  /** An event carries a userId its visitor may not be linked to yet. */
  links: boolean;
  /** An event carries hashed email or phone for the user's identity record. */
  identities: boolean;
}

const writeStatements = new Map<string, NamedStatement>();

/** The statement of a shape, its text built once a process (a busy collector writes a batch every few milliseconds). */
function preparedWrite(shape: WriteShape): NamedStatement {
  const flags = shapeFlags(shape);
  let statement = writeStatements.get(flags);
  if (!statement) writeStatements.set(flags, (statement = writeStatement(shape)));
  return statement;
}

const shapeFlags = (shape: WriteShape) => `${shape.touch ? 't' : ''}${shape.sessions ? 's' : ''}${shape.links ? 'l' : ''}${shape.identities ? 'i' : ''}`;

/**
 * The batch statement, in the shape a batch needs, each shape prepared once. An insert that writes
 * no row still costs its part of the statement (about 0.05 ms each, measured), so the writes a
 * batch cannot need are left out: most batches of a busy collector only add events to known
 * sessions.
 *
 * Session scope, in the statement so that every process sees the same sessions: a row's
 * attribution is that of the latest "anchor" before it in its session (event time, then order in
 * the batch): an anchor is an event that brings its own campaign, an event without a session, or
 * the first event of a session not seen before. Rows of a known session before any anchor of the
 * batch take the session's stored attribution. The session's row is written only when it is new
 * or an anchor moves it.
 *
 * Identity: a row without a userId takes its visitor's linked user; a row with both ids links
 * them (the latest user wins); email/phone hashes go to the user's identity record.
 */
function writeStatement(shape: WriteShape): NamedStatement {
  const flags = shapeFlags(shape);
  const name = `marktag_write_events_v3${flags ? `_${flags}` : ''}`;
  const touchTags = shape.touch
    ? `, touched as (
        update marktags set last_event_at = now(),
          status = case when status = 'waiting_for_events' then 'active' else status end
        where id = any($${TOUCH_PARAM}::uuid[])
          and (last_event_at is null or last_event_at < now() - interval '1 minute' or status = 'waiting_for_events')
        returning 1)`
    : '';
  const moveSessions = shape.sessions
    ? `, moved as (
        insert into sessions (merchant_id, session_id, partner_id, visitor_id, user_id, started_at, ${ATTRIBUTION_COLUMNS.join(', ')})
        select distinct on (merchant_id, session_id) merchant_id, session_id, partner_id, visitor_id, r_user_id,
               min(timestamp) over (partition by merchant_id, session_id), ${list((c) => `r_${c}`)}
        from resolved
        where session_id is not null and (anchor or not known)
        order by merchant_id, session_id, timestamp desc, n desc
        on conflict (merchant_id, session_id) do update set ${list((c) => `${c} = excluded.${c}`)}
        returning 1)`
    : '';
  // Replays (rows not claimed) may link again: the same link, harmless.
  const link = shape.links
    ? `, linking as (
        insert into visitor_users (merchant_id, visitor_id, partner_id, user_id, linked_at)
        select distinct on (merchant_id, visitor_id) merchant_id, visitor_id, partner_id, user_id, received_at
        from u where user_id is not null
        order by merchant_id, visitor_id, timestamp desc, n desc
        on conflict (merchant_id, visitor_id) do update set user_id = excluded.user_id, linked_at = excluded.linked_at
          where visitor_users.user_id <> excluded.user_id
        returning 1)`
    : '';
  const identify = shape.identities
    ? `, identified as (
        insert into identities (merchant_id, user_id, partner_id, email_sha256, phone_sha256, first_seen_at, updated_at)
        select distinct on (merchant_id, user_id) merchant_id, user_id, partner_id, email_sha256, phone_sha256, received_at, received_at
        from u where user_id is not null and (email_sha256 is not null or phone_sha256 is not null)
        order by merchant_id, user_id, timestamp desc, n desc
        on conflict (merchant_id, user_id) do update set
          email_sha256 = coalesce(excluded.email_sha256, identities.email_sha256),
          phone_sha256 = coalesce(excluded.phone_sha256, identities.phone_sha256),
          updated_at = excluded.updated_at
        returning 1)`
    : '';
  const attributionParams = list((c) => `$${FIRST_ATTRIBUTION_PARAM + ATTRIBUTION_COLUMNS.indexOf(c as (typeof ATTRIBUTION_COLUMNS)[number])}::text[]`);
  const session = (alias = '') => `partition by ${alias}merchant_id, ${alias}session_id order by ${alias}timestamp, ${alias}n`;
  return {
    name,
    text: `
      with u as materialized (
        select u.*, s.session_id is not null as known, ${list((c) => `s.${c} as p_${c}`)}, l.user_id as linked_user_id
        from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::timestamptz[], $7::timestamptz[],
          $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::numeric[], $14::text[], $15::jsonb[],
          $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::boolean[], $23::text[], $24::text[],
          ${attributionParams}) with ordinality
          as u(event_id, tag_id, merchant_id, partner_id, type, timestamp, received_at, url, referrer, title,
               visitor_id, session_id, value, currency, properties, device_type, device_browser, device_os,
               source, user_id, country, own, email_sha256, phone_sha256, ${list((c) => `e_${c}`)}, n)
        -- Each row finds its session and its visitor's link by the primary keys, as it is read: two
        -- index probes a row, cheaper than joining the batch to look-ups gathered apart (measured).
        left join sessions s on s.merchant_id = u.merchant_id and s.session_id = u.session_id and not u.own
        left join visitor_users l on l.merchant_id = u.merchant_id and l.visitor_id = u.visitor_id and u.user_id is null
      ),
      claimed as (
        insert into event_keys (tag_id, event_id, received_at)
        select tag_id, event_id, received_at from u
        on conflict do nothing
        returning tag_id, event_id
      ),
${shape.sessions ? windowedResolution(session) : knownSessionResolution}
      ins as (
        insert into events (id, event_id, tag_id, merchant_id, partner_id, type, timestamp, received_at, url, referrer, title,
                            visitor_id, session_id, value, currency, properties, device_type, device_browser, device_os,
                            source, user_id, country, ${ATTRIBUTION_COLUMNS.join(', ')})
        select b.base + (pg_current_xact_id()::text::bigint << 20) + r.n, r.event_id, r.tag_id, r.merchant_id, r.partner_id,
               r.type, r.timestamp, r.received_at, r.url, r.referrer, r.title, r.visitor_id, r.session_id, r.value, r.currency,
               r.properties, r.device_type, r.device_browser, r.device_os, r.source, r.r_user_id, r.country, ${list((c) => `r.r_${c}`)}
        from resolved r cross join event_id_base b
        returning id
      )${moveSessions}${link}${identify}${touchTags}
      -- skipped: in eventKey's shape (tag id / event id), for the batch writer to match.
      select (select max(id) from ins)::text as max_id,
             array(select u.tag_id || '/' || u.event_id from u
                   where not exists (select 1 from claimed c where c.tag_id = u.tag_id and c.event_id = u.event_id)) as skipped`,
  };
}

export { key as eventKey };
