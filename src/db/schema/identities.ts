import { index, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/**
 * Which user a merchant's visitor is: set by an event carrying both ids (the tracker's identify, a
 * server event), the latest user winning. An event of a linked visitor without a userId gets it.
 */
export const visitorUsers = pgTable(
  'visitor_users',
  {
    merchantId: uuid('merchant_id').notNull(),
    visitorId: text('visitor_id').notNull(),
    partnerId: uuid('partner_id').notNull(),
    userId: text('user_id').notNull(),
    linkedAt: timestamp('linked_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (table) => [
    primaryKey({ name: 'visitor_users_pkey', columns: [table.merchantId, table.visitorId] }),
    index('visitor_users_user_idx').on(table.merchantId, table.userId, table.linkedAt.desc()),
  ],
);

/**
 * A merchant's user: email and phone only as SHA-256 hex of their normalised forms (what ad
 * platforms' conversion APIs match on), never in clear.
 */
export const identities = pgTable(
  'identities',
  {
    merchantId: uuid('merchant_id').notNull(),
    userId: text('user_id').notNull(),
    partnerId: uuid('partner_id').notNull(),
    emailSha256: text('email_sha256'),
    phoneSha256: text('phone_sha256'),
    firstSeenAt: timestamp('first_seen_at', { withTimezone: true, mode: 'date' }).notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (table) => [primaryKey({ name: 'identities_pkey', columns: [table.merchantId, table.userId] })],
);
