-- The merchant/time index also carries the columns the summary reads, so a summary is an
-- index-only scan of the merchant's range instead of one heap page per event (drizzle's schema
-- cannot say INCLUDE; src/db/schema/events.ts points here).
DROP INDEX "events_merchant_time_idx";--> statement-breakpoint
CREATE INDEX "events_merchant_time_idx" ON "events" USING btree ("merchant_id","timestamp" DESC NULLS LAST,"id" DESC NULLS LAST)
  INCLUDE ("partner_id","tag_id","type","visitor_id","session_id","value","currency");--> statement-breakpoint
-- Index-only scans need the visibility map current; an append-only table is otherwise vacuumed
-- only after each 20% growth, leaving the newest (most read) days to heap fetches.
ALTER TABLE "events" SET (autovacuum_vacuum_insert_scale_factor = 0.01, autovacuum_vacuum_insert_threshold = 10000);
