import { and, eq, gte, inArray, lt, sql, type SQL } from 'drizzle-orm';
import type { Database, NamedStatement, RunStatement } from '../../db/client.js';
import { events, type EventRow } from '../../db/schema/index.js';
import { LIMITS } from '../collect/event-rules.js';
import { afterIdStatement, newSinceStatement, pageStatement, toEventRow, type RawEventRow } from './read-statements.js';
import { CONVERSION_TYPES } from './schemas.js';

export interface EventFilters {
  merchantId?: string;
  tagId?: string;
  types?: string[];
  from?: Date;
  to?: Date;
  visitorId?: string;
  sessionId?: string;
  userId?: string;
  source?: 'browser' | 'server';
}

/** A position in the newest-first order: event time in microseconds since the epoch, then id. */
export interface Position {
  micros: bigint;
  id: bigint;
}

export type PositionedRow = EventRow & { micros: string };

export interface SummaryRows {
  totals: { events: number; visitors: number; sessions: number; page_views: number; conversions: number };
  values: { currency: string; value: string }[];
  byType: { type: string; count: number }[];
  series: { start: Date | string; events: number; visitors: number; conversions: number }[];
}

/**
 * One row per bucket and (type, currency) of a summary's range: the counts and value sums, and the
 * bucket's visitor and session ids joined by spaces (ids never hold one: the collector's ID_PATTERN),
 * for the service to count distinct ids (summariseGroups). An empty bucket is one row of nulls.
 */
export interface SummaryGroupRow {
  /** Bucket start, milliseconds since the epoch. */
  start: number;
  type: string | null;
  currency: string | null;
  events: number | null;
  value: string | null;
  visitors: string | null;
  sessions: string | null;
}

/** Prepared once per connection: planning it took a sixth of its time. */
export const SUMMARY_GROUPS: NamedStatement = {
  name: 'marktag_summary_groups',
  text: `
    with starts as (
      select distinct date_trunc($6, step, $7) as start
      from generate_series(date_trunc($6, $4::timestamptz, $7), $5::timestamptz - interval '1 microsecond', interval '1 hour') as step
    ),
    buckets as (
      select start, greatest(start, $4::timestamptz) as lo, coalesce(lead(start) over (order by start), $5::timestamptz) as hi from starts
    )
    select (extract(epoch from b.start) * 1000)::float8 as start, g.type, g.currency, g.events, g.value, g.visitors, g.sessions
    from buckets b left join lateral (
      select type, currency, count(*)::int as events, sum(value)::text as value,
             string_agg(visitor_id, ' ') as visitors, string_agg(session_id, ' ') as sessions
      from (select type, currency, value, visitor_id, session_id from events
            where partner_id = $1 and merchant_id = $2 and ($3::uuid is null or tag_id = $3::uuid)
              and timestamp >= b.lo and timestamp < b.hi
            limit $8) r
      group by type, currency
    ) g on true
    order by b.start`,
};

/**
 * Running transactions of this database (their 32-bit xids against the snapshot's 64-bit ones),
 * else the snapshot's xmax. Prepared once per connection: the stream hub asks at every wake.
 */
const HORIZON: NamedStatement = {
  name: 'marktag_events_horizon',
  text: `
    select (b.base + (coalesce(
      (select min(x::text::bigint) from pg_snapshot_xip(pg_current_snapshot()) x
       join pg_stat_get_activity(null) a
         on a.datid = (select oid from pg_database where datname = current_database())
        and a.backend_xid::text::bigint = x::text::bigint % 4294967296),
      pg_snapshot_xmax(pg_current_snapshot())::text::bigint) << 20))::text as horizon
    from event_id_base b`,
};

/** No stored event is later than this: the collector clamps a client's clock to its receipt + the future skew. */
function latestEventTime(): Date {
  return new Date(Date.now() + LIMITS.futureSkewMs + 1000);
}

function rows<T>(result: unknown): T[] {
  return (result as { rows: T[] }).rows;
}

/** Reads of collected events; every query is confined to one partner, except the stream hub's feed. */
export class EventsRepository {
  constructor(
    private readonly db: Database,
    private readonly run: RunStatement,
  ) {}

  private where(partnerId: string, filters: EventFilters): SQL | undefined {
    return and(
      eq(events.partnerId, partnerId),
      filters.merchantId === undefined ? undefined : eq(events.merchantId, filters.merchantId),
      filters.tagId === undefined ? undefined : eq(events.tagId, filters.tagId),
      filters.types === undefined ? undefined : filters.types.length === 1 ? eq(events.type, filters.types[0] ?? '') : inArray(events.type, filters.types),
      filters.from === undefined ? undefined : gte(events.timestamp, filters.from),
      // Without a `to`, the latest time an event can have: the same rows, and the planner leaves out
      // the partitions of the weeks ahead (and the default one) before planning their indexes.
      lt(events.timestamp, filters.to ?? latestEventTime()),
      filters.visitorId === undefined ? undefined : eq(events.visitorId, filters.visitorId),
      filters.sessionId === undefined ? undefined : eq(events.sessionId, filters.sessionId),
      filters.userId === undefined ? undefined : eq(events.userId, filters.userId),
      filters.source === undefined ? undefined : eq(events.source, filters.source),
    );
  }

  /** One page newest first, after `position` (exclusive). */
  async page(partnerId: string, filters: EventFilters, after: Position | undefined, limit: number): Promise<PositionedRow[]> {
    const { statement, params } = pageStatement(partnerId, filters, after, limit, latestEventTime());
    const raw = await this.run<RawEventRow & { micros: string }>(statement, params);
    // Added to the mapped row rather than spread into a copy: a copy of 20 fields cost more than the mapping.
    return raw.map((row) => Object.assign(toEventRow(row), { micros: row.micros }));
  }

  /** Events after an id and below a horizon (`horizon()`), in id order: replay for a reconnecting stream. */
  async afterId(partnerId: string, filters: EventFilters, afterId: bigint, before: bigint, limit: number): Promise<EventRow[]> {
    const { statement, params } = afterIdStatement(partnerId, filters, afterId, before, limit, latestEventTime());
    return (await this.run<RawEventRow>(statement, params)).map(toEventRow);
  }

  /** The stream hub's feed: every partner's new events below a horizon, in id order. The hub routes each to its own partner's streams. */
  async newSince(afterId: bigint, before: bigint, limit: number): Promise<EventRow[]> {
    const { statement, params } = newSinceStatement(afterId, before, limit);
    return (await this.run<RawEventRow>(statement, params)).map(toEventRow);
  }

  /**
   * The commit watermark: every event with a smaller id is committed or never will be, so a reader
   * that has taken all of them in id order never meets a smaller one later. An event's id is
   * `base + (its transaction id << 20) + ordinal`; the watermark is the oldest transaction of this
   * database still running when the statement started (or, with none, the first one not yet
   * begun). Not the snapshot's xmin, which counts every database of the server: a long load into
   * another one would hold every stream back. One statement, so the statement's snapshot is taken
   * before the backends are read: a transaction that snapshot saw running and that is gone when
   * they are read has ended, and is below the watermark only then.
   */
  async horizon(): Promise<bigint> {
    const [row] = await this.run<{ horizon: string }>(HORIZON, []);
    if (row === undefined) throw new Error('event_id_base is empty: the migrations did not run');
    return BigInt(row.horizon);
  }

  /**
   * The summary's range, bucket by bucket, as compact groups (SummaryGroupRow), in one statement.
   * Each bucket is its own range read of the merchant/time index (index-only), so no row pays for
   * a time-zone conversion or a hash of its bucket; at most `perBucketLimit + 1` rows are read a
   * bucket, so that a range too big to count in the service costs little before the caller falls
   * back to `summary`.
   */
  async summaryGroups(
    partnerId: string,
    filters: { merchantId: string; tagId?: string; from: Date; to: Date },
    interval: 'hour' | 'day',
    timeZone: string,
    perBucketLimit: number,
  ): Promise<SummaryGroupRow[]> {
    return this.run<SummaryGroupRow>(SUMMARY_GROUPS, [
      partnerId,
      filters.merchantId,
      filters.tagId ?? null,
      filters.from,
      filters.to,
      interval,
      timeZone,
      perBucketLimit + 1,
    ]);
  }

  /**
   * The whole summary aggregated by the database, for ranges too big for the service to count from
   * `summaryGroups` (same answer, tested so). One statement (one snapshot, one round trip): the
   * range is read once (materialised, an index-only scan of the merchant/time index, which carries
   * these columns) and aggregated four ways. Buckets are truncated in the requested zone, so days
   * follow its midnights and its DST changes; the empty buckets come from hourly steps truncated the
   * same way, since a fixed 1-day step would drift across a DST change.
   */
  async summary(
    partnerId: string,
    filters: EventFilters & { merchantId: string; from: Date; to: Date },
    interval: 'hour' | 'day',
    timeZone: string,
  ): Promise<SummaryRows> {
    const unit = sql.raw(interval === 'hour' ? `'hour'` : `'day'`);
    const isConversion = sql.raw(`type in (${CONVERSION_TYPES.map((type) => `'${type}'`).join(', ')})`);
    const [row] = rows<{ totals: SummaryRows['totals']; values: SummaryRows['values'] | null; by_type: SummaryRows['byType'] | null; series: SummaryRows['series'] | null }>(
      await this.db.execute(sql`
        with f as materialized (
          select ${events.type} as type, ${events.visitorId} as visitor_id, ${events.sessionId} as session_id,
                 ${events.value} as value, ${events.currency} as currency, date_trunc(${unit}, ${events.timestamp}, ${timeZone}) as bucket
          from ${events} where ${this.where(partnerId, filters)}
        ),
        buckets as (
          select distinct date_trunc(${unit}, step, ${timeZone}) as start
          from generate_series(date_trunc(${unit}, ${filters.from}::timestamptz, ${timeZone}), ${filters.to}::timestamptz - interval '1 microsecond', interval '1 hour') as step
        ),
        -- Distinct counts by hashing (select distinct) rather than count(distinct), which sorts.
        bucket_visitors as (
          select bucket, count(*)::int as visitors from (select distinct bucket, visitor_id from f) d group by bucket
        ),
        counted as (
          select f.bucket, count(*)::int as events, min(v.visitors) as visitors,
                 (count(*) filter (where ${isConversion}))::int as conversions
          from f join bucket_visitors v on v.bucket = f.bucket group by f.bucket
        )
        select
          (select json_build_object('events', count(*)::int,
             'visitors', (select count(*)::int from (select distinct visitor_id from f) d),
             'sessions', (select count(*)::int from (select distinct session_id from f where session_id is not null) d),
             'page_views', (count(*) filter (where type = 'page_view'))::int,
             'conversions', (count(*) filter (where ${isConversion}))::int) from f) as totals,
          (select json_agg(json_build_object('currency', currency, 'value', total) order by currency)
             from (select currency, sum(value)::text as total from f
                   where ${isConversion} and currency is not null and value is not null group by currency) v) as values,
          (select json_agg(json_build_object('type', type, 'count', n) order by n desc, type collate "C")
             from (select type, count(*)::int as n from f group by type) t) as by_type,
          (select json_agg(json_build_object('start', b.start, 'events', coalesce(c.events, 0),
             'visitors', coalesce(c.visitors, 0), 'conversions', coalesce(c.conversions, 0)) order by b.start)
             from buckets b left join counted c on c.bucket = b.start) as series`),
    );
    return {
      totals: row?.totals ?? { events: 0, visitors: 0, sessions: 0, page_views: 0, conversions: 0 },
      values: row?.values ?? [],
      byType: row?.by_type ?? [],
      series: row?.series ?? [],
    };
  }
}
