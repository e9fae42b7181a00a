import { sql } from 'drizzle-orm';
import { pgTable, text, timestamp, uuid, index } from 'drizzle-orm/pg-core';
import { partners } from './partners.js';

export const merchants = pgTable(
  'merchants',
  {
    id: uuid('id').primaryKey(),
    partnerId: uuid('partner_id')
      .notNull()
      .references(() => partners.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    /** Query parameters of its pages kept in stored URLs beside the attribution ones (at most 20). */
    keepQueryParams: text('keep_query_params').array().notNull().default(sql`'{}'::text[]`),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  // Serves the list (newest first, ties by id) and its count without touching other partners' rows.
  (table) => [index('merchants_partner_created_id_idx').on(table.partnerId, table.createdAt.desc(), table.id.desc())],
);

export type MerchantRow = typeof merchants.$inferSelect;
