import { sql } from 'drizzle-orm';
import { pgTable, text, timestamp, uuid, index, uniqueIndex } from 'drizzle-orm/pg-core';

export const partners = pgTable(
  'partners',
  {
    id: uuid('id').primaryKey(),
    name: text('name').notNull(),
    /**
     * The partner's own domain, under which tags are preverified; lower-case, no trailing dot.
     * Unique ignoring case (the index); no partner domain lies under another's (the admin service,
     * under a lock per registrable domain, since an index cannot say "under").
     */
    domain: text('domain'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [
    index('partners_created_at_id_idx').on(table.createdAt.desc(), table.id.desc()),
    uniqueIndex('partners_domain_unique').on(sql`lower(${table.domain})`),
  ],
);

export type PartnerRow = typeof partners.$inferSelect;
