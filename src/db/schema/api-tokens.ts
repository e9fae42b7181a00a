import { pgTable, text, timestamp, uuid, index } from 'drizzle-orm/pg-core';
import { partners } from './partners.js';

export const apiTokens = pgTable(
  'api_tokens',
  {
    id: uuid('id').primaryKey(),
    partnerId: uuid('partner_id')
      .notNull()
      .references(() => partners.id, { onDelete: 'cascade' }),
    name: text('name'),
    /** SHA-256 of the whole token, hex. The token itself is never stored. */
    tokenHash: text('token_hash').notNull().unique('api_tokens_token_hash_key'),
    /** The first characters of the token, enough to recognise it in a list. */
    prefix: text('prefix').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true, mode: 'date' }),
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
  },
  (table) => [index('api_tokens_partner_id_created_at_idx').on(table.partnerId, table.createdAt)],
);

export type ApiTokenRow = typeof apiTokens.$inferSelect;
