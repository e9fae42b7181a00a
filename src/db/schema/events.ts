import { sql } from 'drizzle-orm';
import { bigint, index, jsonb, numeric, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/**
 * Collected events: append-only, range-partitioned by event time into weekly partitions (Monday
 * 00:00 UTC) that the server creates ahead (src/db/partitions.ts), with a default partition for
 * strays. Drizzle cannot declare partitioning: migration 0006 creates the table, this schema gives
 * its columns and indexes to the queries. No foreign keys and no unique constraint (a unique index
 * of a partitioned table must hold the partition key): a replay is stopped by `event_keys` instead.
 */
export const events = pgTable(
  'events',
  {
    /**
     * Commit-ordered, assigned by the write statement: `event_id_base.base + (transaction id << 20)
     * + the row's ordinal in its statement`. Every id below `base + (oldest running transaction of
     * the database << 20)` is final: no row with a smaller id can commit later. That is the
     * stream's watermark (EventsRepository.horizon), with no lock between writers.
     */
    id: bigint('id', { mode: 'bigint' }).notNull(),
    eventId: uuid('event_id').notNull(),
    tagId: uuid('tag_id').notNull(),
    merchantId: uuid('merchant_id').notNull(),
    partnerId: uuid('partner_id').notNull(),
    type: text('type').notNull(),
    /** Event time: the client's timestamp unless it was more than 5 minutes ahead of receivedAt. The partition key. */
    timestamp: timestamp('timestamp', { withTimezone: true, mode: 'date' }).notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true, mode: 'date' }).notNull(),
    /** Without its query string beyond the attribution parameters; null for a server event sent without one. */
    url: text('url'),
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
    /** `browser` (the collector) or `server` (POST /v1/partners/events). */
    source: text('source').notNull().default('browser'),
    /** The merchant's id for the signed-in user: sent, or the visitor's link (visitor_users). */
    userId: text('user_id'),
    /** ISO 3166-1 alpha-2 of the client address (never stored itself), or sent by a server. */
    country: text('country'),
    // Attribution, derived at write time with session scope (src/modules/attribution).
    attrSource: text('attr_source'),
    attrMedium: text('attr_medium'),
    attrCampaign: text('attr_campaign'),
    attrTerm: text('attr_term'),
    attrContent: text('attr_content'),
    channel: text('channel'),
    clickIdType: text('click_id_type'),
    referrerHost: text('referrer_host'),
    landingPage: text('landing_page'),
  },
  (table) => [
    // Each Events API filter walks one of these newest-first, stopping after a page: no query scans
    // a tenant's history, a rare type included. Each leads with its tenant (the service always
    // gives the merchant of a tag filter), so no index mixes partners' visitors or sessions.
    index('events_merchant_time_idx').on(table.merchantId, table.timestamp.desc(), table.id.desc()),
    index('events_merchant_type_time_idx').on(table.merchantId, table.type, table.timestamp.desc(), table.id.desc()),
    index('events_merchant_tag_time_idx').on(table.merchantId, table.tagId, table.timestamp.desc(), table.id.desc()),
    index('events_partner_time_idx').on(table.partnerId, table.timestamp.desc(), table.id.desc()),
    index('events_partner_type_time_idx').on(table.partnerId, table.type, table.timestamp.desc(), table.id.desc()),
    index('events_partner_visitor_time_idx').on(table.partnerId, table.visitorId, table.timestamp.desc(), table.id.desc()),
    index('events_partner_session_time_idx')
      .on(table.partnerId, table.sessionId, table.timestamp.desc(), table.id.desc())
      .where(sql`${table.sessionId} is not null`),
    // The userId filter, and the server events (a small share): partial, so browser rows without a user cost nothing.
    index('events_partner_user_time_idx')
      .on(table.partnerId, table.userId, table.timestamp.desc(), table.id.desc())
      .where(sql`${table.userId} is not null`),
    index('events_partner_server_time_idx')
      .on(table.partnerId, table.merchantId, table.timestamp.desc(), table.id.desc())
      .where(sql`${table.source} = 'server'`),
    // The stream's feed and replay: rows after a watermark, in id order.
    index('events_id_idx').on(table.id),
  ],
);

/**
 * The (tag, event id) of every event received in the deduplication window: a replay of one of
 * them is skipped. Unpartitioned, so that the key alone is unique; pruned of keys older than the
 * window (src/db/event-keys.ts), which keeps it a small fraction of the events.
 */
export const eventKeys = pgTable(
  'event_keys',
  {
    tagId: uuid('tag_id').notNull(),
    eventId: uuid('event_id').notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  // Plus a BRIN index on received_at for the pruning (migration 0006: drizzle cannot say BRIN).
  (table) => [primaryKey({ name: 'event_keys_pkey', columns: [table.tagId, table.eventId] })],
);

/** One row: the first id of the commit-ordered scheme, above every id an earlier release assigned. */
export const eventIdBase = pgTable('event_id_base', {
  base: bigint('base', { mode: 'bigint' }).notNull(),
});

export type EventRow = typeof events.$inferSelect;
