import { integer, pgTable, primaryKey, text, timestamp, index } from 'drizzle-orm/pg-core';

/**
 * Remembered answers to POST requests sent with an Idempotency-Key, per caller (`scope`), for 24 h.
 * A row without `statusCode` is a request still in flight.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    scope: text('scope').notNull(),
    key: text('key').notNull(),
    fingerprint: text('fingerprint').notNull(),
    statusCode: integer('status_code'),
    // The exact bytes first sent, so a replay is identical to the original answer.
    responseBody: text('response_body'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [primaryKey({ columns: [table.scope, table.key] }), index('idempotency_keys_created_at_idx').on(table.createdAt)],
);

export type IdempotencyKeyRow = typeof idempotencyKeys.$inferSelect;
