import { sql } from 'drizzle-orm';
import { boolean, check, index, integer, pgTable, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';
import { merchants } from './merchants.js';
import { partners } from './partners.js';

export const TAG_STATUSES = ['inactive', 'waiting_for_events', 'active'] as const;
export type TagStatus = (typeof TAG_STATUSES)[number];

export const marktags = pgTable(
  'marktags',
  {
    id: uuid('id').primaryKey(),
    /** Denormalised from the merchant so every query can be confined to one partner cheaply. */
    partnerId: uuid('partner_id')
      .notNull()
      .references(() => partners.id, { onDelete: 'cascade' }),
    merchantId: uuid('merchant_id')
      .notNull()
      .references(() => merchants.id, { onDelete: 'cascade' }),
    /** The domain the tag was generated for, lower-case. One tag per (merchant, domain). */
    domain: text('domain').notNull(),
    /** Registrable domain of `domain` (Public Suffix List, private suffixes included). */
    rootDomain: text('root_domain').notNull(),
    /** Where the tag is installed: `domain` until a verify names the subdomain. */
    hostname: text('hostname').notNull(),
    preverified: boolean('preverified').notNull(),
    status: text('status', { enum: TAG_STATUSES }).notNull(),
    isConnected: boolean('is_connected').notNull().default(false),
    isVerified: boolean('is_verified').notNull().default(false),
    /**
     * The CNAME record the merchant was told to add, kept as issued so that the answer for an
     * existing tag, and what its verification expects, do not move when the configuration does.
     */
    recordName: text('record_name'),
    recordValue: text('record_value'),
    /** The host whose CNAME reached the target at verification; the tracker is served from it. */
    trackingHost: text('tracking_host'),
    verifiedAt: timestamp('verified_at', { withTimezone: true, mode: 'date' }),
    lastEventAt: timestamp('last_event_at', { withTimezone: true, mode: 'date' }),
    /** Consecutive definite failures of background re-verification. */
    recheckFailures: integer('recheck_failures').notNull().default(0),
    lastCheckedAt: timestamp('last_checked_at', { withTimezone: true, mode: 'date' }),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (table) => [
    // The same merchant and domain always give the same tag, even under concurrent requests.
    unique('marktags_merchant_domain_key').on(table.merchantId, table.domain),
    index('marktags_partner_merchant_created_idx').on(table.partnerId, table.merchantId, table.createdAt),
    // Ownership checks: who else holds a live tag on this registrable domain.
    index('marktags_root_domain_live_idx')
      .on(table.rootDomain)
      .where(sql`${table.isVerified} and ${table.isConnected}`),
    // The re-verification sweep: live custom tags, least recently checked first.
    index('marktags_recheck_idx')
      .on(table.lastCheckedAt)
      .where(sql`${table.isVerified} and ${table.isConnected} and not ${table.preverified}`),
    check('marktags_status_check', sql`${table.status} in ('inactive', 'waiting_for_events', 'active')`),
  ],
);

export type MarktagRow = typeof marktags.$inferSelect;
