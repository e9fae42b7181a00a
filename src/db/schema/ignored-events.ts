import { bigint, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { marktags } from './marktags.js';
import { partners } from './partners.js';

/** Why the collector answered 202 without storing: only bots so far. */
export const IGNORE_REASONS = ['bot'] as const;
export type IgnoreReason = (typeof IGNORE_REASONS)[number];

/**
 * Events the collector answered but did not store, counted per tag and reason for the tag's
 * diagnostics. Counted in memory and added here every few seconds, never a write per request.
 */
export const ignoredEvents = pgTable(
  'ignored_events',
  {
    tagId: uuid('tag_id')
      .notNull()
      .references(() => marktags.id, { onDelete: 'cascade' }),
    /** Denormalised from the tag so that reads are confined to one partner. */
    partnerId: uuid('partner_id')
      .notNull()
      .references(() => partners.id, { onDelete: 'cascade' }),
    reason: text('reason').notNull(),
    count: bigint('count', { mode: 'number' }).notNull(),
    lastIgnoredAt: timestamp('last_ignored_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (table) => [primaryKey({ name: 'ignored_events_pkey', columns: [table.tagId, table.reason] })],
);

export type IgnoredEventsRow = typeof ignoredEvents.$inferSelect;
