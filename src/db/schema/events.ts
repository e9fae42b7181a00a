import { sql } from 'drizzle-orm';
import { bigint, index, jsonb, numeric, pgTable, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';

/**
 * Collected events: append-only. No foreign keys, so that a write is one index probe per unique
 * key and nothing else; tags and merchants are never deleted while they have events.
 */
export const events = pgTable(
  'events',
  {
    /** Server-assigned, strictly increasing: the stream's cursor and the tie-breaker of event time. */
    id: bigint('id', { mode: 'bigint' }).primaryKey().generatedAlwaysAsIdentity(),
    eventId: uuid('event_id').notNull(),
    tagId: uuid('tag_id').notNull(),
    merchantId: uuid('merchant_id').notNull(),
    partnerId: uuid('partner_id').notNull(),
    type: text('type').notNull(),
    /** Event time: the client's timestamp unless it was more than 5 minutes ahead of receivedAt. */
    timestamp: timestamp('timestamp', { withTimezone: true, mode: 'date' }).notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true, mode: 'date' }).notNull(),
    url: text('url').notNull(),
    referrer: text('referrer'),
    title: text('title'),
    visitorId: text('visitor_id').notNull(),
    sessionId: text('session_id'),
    value: numeric('value', { precision: 20, scale: 6, mode: 'number' }),
    currency: text('currency'),
    properties: jsonb('properties').$type<Record<string, unknown>>(),
    deviceType: text('device_type'),
    deviceBrowser: text('device_browser'),
    deviceOs: text('device_os'),
  },
  (table) => [
    // Replays store nothing twice: an event id is unique per tag.
    unique('events_tag_event_key').on(table.tagId, table.eventId),
    // Each Events API filter walks one of these newest-first, stopping after a page: no query scans
    // a merchant's history, a rare type included. A tag filter rides on its merchant's index (the
    // service adds the tag's merchant), which spares every insert one more index.
    // Also INCLUDEs partner_id, tag_id, type, visitor_id, session_id, value and currency (migration
    // 0003, as drizzle cannot express INCLUDE): a summary reads its range from this index alone.
    index('events_merchant_time_idx').on(table.merchantId, table.timestamp.desc(), table.id.desc()),
    index('events_merchant_type_time_idx').on(table.merchantId, table.type, table.timestamp.desc(), table.id.desc()),
    index('events_partner_time_idx').on(table.partnerId, table.timestamp.desc(), table.id.desc()),
    index('events_visitor_time_idx').on(table.visitorId, table.timestamp.desc(), table.id.desc()),
    index('events_session_time_idx')
      .on(table.sessionId, table.timestamp.desc(), table.id.desc())
      .where(sql`${table.sessionId} is not null`),
  ],
);

export type EventRow = typeof events.$inferSelect;
