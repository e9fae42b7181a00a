import { bigint, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { marktags } from './marktags.js';

/**
 * A tag's events by outcome and hour (accepted by source, duplicates, ignored, rejected by error
 * code), for its diagnostics over the last 24 hours. Counted in memory by each process and added
 * here every few seconds (src/modules/diagnostics/tag-counter.ts); hours older than two days are pruned.
 */
export const tagCounts = pgTable(
  'tag_counts',
  {
    tagId: uuid('tag_id')
      .notNull()
      .references(() => marktags.id, { onDelete: 'cascade' }),
    partnerId: uuid('partner_id').notNull(),
    hour: timestamp('hour', { withTimezone: true, mode: 'date' }).notNull(),
    outcome: text('outcome').notNull(),
    count: bigint('count', { mode: 'number' }).notNull(),
    lastAt: timestamp('last_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (table) => [primaryKey({ name: 'tag_counts_pkey', columns: [table.tagId, table.hour, table.outcome] })],
);

/** When a tag last stored a browser and a server event: kept beyond the counts' two days. */
export const tagActivity = pgTable('tag_activity', {
  tagId: uuid('tag_id')
    .primaryKey()
    .references(() => marktags.id, { onDelete: 'cascade' }),
  partnerId: uuid('partner_id').notNull(),
  lastBrowserEventAt: timestamp('last_browser_event_at', { withTimezone: true, mode: 'date' }),
  lastServerEventAt: timestamp('last_server_event_at', { withTimezone: true, mode: 'date' }),
});
