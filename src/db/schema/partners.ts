import { pgTable, text, timestamp, uuid, index } from 'drizzle-orm/pg-core';

export const partners = pgTable(
  'partners',
  {
    id: uuid('id').primaryKey(),
    name: text('name').notNull(),
    /** The partner's own domain, under which tags are preverified; lower-case, no trailing dot. */
    domain: text('domain'),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [index('partners_created_at_id_idx').on(table.createdAt.desc(), table.id.desc())],
);

export type PartnerRow = typeof partners.$inferSelect;
