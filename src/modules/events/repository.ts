import { and, asc, desc, eq, gt, gte, inArray, lt, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { events, type EventRow } from '../../db/schema/index.js';
import { CONVERSION_TYPES } from './schemas.js';

export interface EventFilters {
  merchantId?: string;
  tagId?: string;
  types?: string[];
  from?: Date;
  to?: Date;
  visitorId?: string;
  sessionId?: string;
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

const MICROS = sql<string>`(extract(epoch from ${events.timestamp}) * 1000000)::bigint::text`;
const conversion = inArray(events.type, [...CONVERSION_TYPES]);

function rows<T>(result: unknown): T[] {
  return (result as { rows: T[] }).rows;
}

/** Reads of collected events; every query is confined to one partner, except the stream hub's feed. */
export class EventsRepository {
  constructor(private readonly db: Database) {}

  private where(partnerId: string, filters: EventFilters): SQL | undefined {
    return and(
      eq(events.partnerId, partnerId),
      filters.merchantId === undefined ? undefined : eq(events.merchantId, filters.merchantId),
      filters.tagId === undefined ? undefined : eq(events.tagId, filters.tagId),
      filters.types === undefined ? undefined : filters.types.length === 1 ? eq(events.type, filters.types[0] ?? '') : inArray(events.type, filters.types),
      filters.from === undefined ? undefined : gte(events.timestamp, filters.from),
      filters.to === undefined ? undefined : lt(events.timestamp, filters.to),
      filters.visitorId === undefined ? undefined : eq(events.visitorId, filters.visitorId),
      filters.sessionId === undefined ? undefined : eq(events.sessionId, filters.sessionId),
    );
  }

  /** One page newest first, after `position` (exclusive). The row comparison walks the index. */
  async page(partnerId: string, filters: EventFilters, after: Position | undefined, limit: number, tx: Database = this.db): Promise<PositionedRow[]> {
    const keyset =
      after === undefined
        ? undefined
        : sql`(${events.timestamp}, ${events.id}) < (timestamptz 'epoch' + ${after.micros.toString()}::bigint * interval '1 microsecond', ${after.id.toString()}::bigint)`;
    return tx
      .select({ ...eventColumns, micros: MICROS })
      .from(events)
      .where(and(this.where(partnerId, filters), keyset))
      .orderBy(sql`${events.timestamp} desc nulls last`, sql`${events.id} desc nulls last`)
      .limit(limit);
  }

  /** Events after an id, in id order: replay for a reconnecting stream. */
  async afterId(partnerId: string, filters: EventFilters, afterId: bigint, limit: number, tx: Database = this.db): Promise<EventRow[]> {
    return tx
      .select()
      .from(events)
      .where(and(this.where(partnerId, filters), gt(events.id, afterId)))
      .orderBy(asc(events.id))
      .limit(limit);
  }

  /** The stream hub's feed: every partner's new events, in id order. The hub routes each to its own partner's streams. */
  async newSince(afterId: bigint, limit: number, tx: Database = this.db): Promise<EventRow[]> {
    return tx.select().from(events).where(gt(events.id, afterId)).orderBy(asc(events.id)).limit(limit);
  }

  async maxId(tx: Database = this.db): Promise<bigint> {
    const [row] = rows<{ max: string | null }>(await tx.execute(sql`select max(id)::text as max from events`));
    return BigInt(row?.max ?? 0);
  }

  /**
   * Totals, counts by type and the bucketed series, in one read-only snapshot whose session time
   * zone is the requested one, so day buckets follow that zone's midnights (and its DST changes).
   */
  async summary(
    partnerId: string,
    filters: EventFilters & { merchantId: string; from: Date; to: Date },
    interval: 'hour' | 'day',
    timeZone: string,
  ): Promise<SummaryRows> {
    return this.db.transaction(
      async (tx) => {
        await tx.execute(sql`select set_config('TimeZone', ${timeZone}, true)`);
        const where = this.where(partnerId, filters);
        const [totals] = await tx
          .select({
            events: sql<number>`count(*)::int`,
            visitors: sql<number>`count(distinct ${events.visitorId})::int`,
            sessions: sql<number>`count(distinct ${events.sessionId})::int`,
            page_views: sql<number>`(count(*) filter (where ${events.type} = 'page_view'))::int`,
            conversions: sql<number>`(count(*) filter (where ${conversion}))::int`,
          })
          .from(events)
          .where(where);
        const values = await tx
          .select({ currency: sql<string>`${events.currency}`, value: sql<string>`sum(${events.value})::text` })
          .from(events)
          .where(and(where, conversion, sql`${events.currency} is not null`, sql`${events.value} is not null`))
          .groupBy(events.currency)
          .orderBy(asc(events.currency));
        const byType = await tx
          .select({ type: events.type, count: sql<number>`count(*)::int` })
          .from(events)
          .where(where)
          .groupBy(events.type)
          .orderBy(desc(sql`count(*)`), asc(events.type));
        const step = interval === 'hour' ? sql`interval '1 hour'` : sql`interval '1 day'`;
        const unit = interval === 'hour' ? sql.raw(`'hour'`) : sql.raw(`'day'`);
        const series = rows<SummaryRows['series'][number]>(
          await tx.execute(sql`
            with buckets as (
              select generate_series(date_trunc(${unit}, ${filters.from}::timestamptz),
                                     ${filters.to}::timestamptz - interval '1 microsecond', ${step}) as start
            ),
            counted as (
              select date_trunc(${unit}, ${events.timestamp}) as start, count(*)::int as events,
                     count(distinct ${events.visitorId})::int as visitors,
                     (count(*) filter (where ${conversion}))::int as conversions
              from ${events} where ${where} group by 1
            )
            select b.start, coalesce(c.events, 0) as events, coalesce(c.visitors, 0) as visitors,
                   coalesce(c.conversions, 0) as conversions
            from buckets b left join counted c on c.start = b.start
            order by b.start`),
        );
        return { totals: totals ?? { events: 0, visitors: 0, sessions: 0, page_views: 0, conversions: 0 }, values, byType, series };
      },
      { isolationLevel: 'repeatable read', accessMode: 'read only' },
    );
  }
}

const eventColumns = {
  id: events.id,
  eventId: events.eventId,
  tagId: events.tagId,
  merchantId: events.merchantId,
  partnerId: events.partnerId,
  type: events.type,
  timestamp: events.timestamp,
  receivedAt: events.receivedAt,
  url: events.url,
  referrer: events.referrer,
  title: events.title,
  visitorId: events.visitorId,
  sessionId: events.sessionId,
  value: events.value,
  currency: events.currency,
  properties: events.properties,
  deviceType: events.deviceType,
  deviceBrowser: events.deviceBrowser,
  deviceOs: events.deviceOs,
};

