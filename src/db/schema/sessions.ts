import { sql } from 'drizzle-orm';
import { index, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/**
 * A merchant's sessions and the attribution their events carry: that of the session's first event,
 * replaced by a later event that brings its own campaign (GA4 starts a new session there). Written
 * by the event write statement itself, so every process sees the same session whichever of them
 * took its events; read for server events without a session (the visitor's latest session).
 */
export const sessions = pgTable(
  'sessions',
  {
    merchantId: uuid('merchant_id').notNull(),
    sessionId: text('session_id').notNull(),
    partnerId: uuid('partner_id').notNull(),
    visitorId: text('visitor_id').notNull(),
    userId: text('user_id'),
    startedAt: timestamp('started_at', { withTimezone: true, mode: 'date' }).notNull(),
    attrSource: text('attr_source').notNull(),
    attrMedium: text('attr_medium').notNull(),
    attrCampaign: text('attr_campaign'),
    attrTerm: text('attr_term'),
    attrContent: text('attr_content'),
    channel: text('channel').notNull(),
    clickIdType: text('click_id_type'),
    referrerHost: text('referrer_host'),
    landingPage: text('landing_page'),
  },
  (table) => [
    primaryKey({ name: 'sessions_pkey', columns: [table.merchantId, table.sessionId] }),
    index('sessions_visitor_started_idx').on(table.merchantId, table.visitorId, table.startedAt.desc()),
    index('sessions_user_started_idx')
      .on(table.merchantId, table.userId, table.startedAt.desc())
      .where(sql`${table.userId} is not null`),
  ],
);

export type SessionRow = typeof sessions.$inferSelect;
