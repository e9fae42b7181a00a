-- Events become a table range-partitioned by event time (weekly partitions, created ahead by the
-- server: src/db/partitions.ts), written without a global lock: ids are commit-ordered
-- (event_id_base, src/db/schema/events.ts) and replays are stopped by the key table, not by a
-- unique index of the events (which a partitioned table could only have with the partition key).
--
-- Stored events are kept where they are: the old table becomes the partition of everything before
-- the first Monday after its newest event (attaching it scans it once, it is not rewritten). Indexes
-- are declared on the parent alone (ON ONLY) and built on each partition CONCURRENTLY after this
-- transaction (src/db/migrate.ts), so no index build holds a lock that stops ingestion.
CREATE TABLE "event_id_base" (
	"base" bigint NOT NULL
);
--> statement-breakpoint
-- New ids start above every id the previous release assigned: a stream's Last-Event-ID stays valid.
INSERT INTO "event_id_base" ("base") SELECT coalesce(max("id"), 0) + 1 FROM "events";
--> statement-breakpoint
CREATE TABLE "event_keys" (
	"tag_id" uuid NOT NULL,
	"event_id" uuid NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	CONSTRAINT "event_keys_pkey" PRIMARY KEY("tag_id","event_id")
);
--> statement-breakpoint
-- Keys arrive in received order, so a BRIN index finds the expired ones for almost nothing per insert.
CREATE INDEX "event_keys_received_brin" ON "event_keys" USING brin ("received_at");
--> statement-breakpoint
-- The deduplication window (7 days) of the events already stored.
INSERT INTO "event_keys" ("tag_id", "event_id", "received_at")
SELECT "tag_id", "event_id", "received_at" FROM "events" WHERE "received_at" > now() - interval '7 days'
ON CONFLICT DO NOTHING;
--> statement-breakpoint
ALTER TABLE "events" RENAME TO "events_legacy";
--> statement-breakpoint
ALTER TABLE "events_legacy" DROP CONSTRAINT "events_tag_event_key";
--> statement-breakpoint
ALTER TABLE "events_legacy" DROP CONSTRAINT "events_pkey";
--> statement-breakpoint
ALTER TABLE "events_legacy" ALTER COLUMN "id" DROP IDENTITY;
--> statement-breakpoint
-- The covering index (the summary moves to rollups) and the untenanted visitor and session indexes go.
DROP INDEX "events_merchant_time_idx";
--> statement-breakpoint
DROP INDEX "events_visitor_time_idx";
--> statement-breakpoint
DROP INDEX "events_session_time_idx";
--> statement-breakpoint
ALTER INDEX "events_merchant_type_time_idx" RENAME TO "events_legacy_merchant_type_time_idx";
--> statement-breakpoint
ALTER INDEX "events_partner_time_idx" RENAME TO "events_legacy_partner_time_idx";
--> statement-breakpoint
CREATE TABLE "events" (
	"id" bigint NOT NULL,
	"event_id" uuid NOT NULL,
	"tag_id" uuid NOT NULL,
	"merchant_id" uuid NOT NULL,
	"partner_id" uuid NOT NULL,
	"type" text NOT NULL,
	"timestamp" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone NOT NULL,
	"url" text NOT NULL,
	"referrer" text,
	"title" text,
	"visitor_id" text NOT NULL,
	"session_id" text,
	"value" numeric(20, 6),
	"currency" text,
	"properties" jsonb,
	"device_type" text,
	"device_browser" text,
	"device_os" text
) PARTITION BY RANGE ("timestamp");
--> statement-breakpoint
DO $$
DECLARE
  newest timestamptz;
  cutover timestamptz;
BEGIN
  SELECT max("timestamp") INTO newest FROM "events_legacy";
  IF newest IS NULL THEN
    DROP TABLE "events_legacy";
  ELSE
    -- The first Monday (00:00 UTC) after both the newest stored event and the next hour.
    cutover := (date_trunc('week', greatest(newest, now() + interval '1 hour') AT TIME ZONE 'UTC') + interval '7 days') AT TIME ZONE 'UTC';
    EXECUTE format('ALTER TABLE "events" ATTACH PARTITION "events_legacy" FOR VALUES FROM (MINVALUE) TO (%L)', cutover);
  END IF;
END
$$;
--> statement-breakpoint
CREATE TABLE "events_default" PARTITION OF "events" DEFAULT;
--> statement-breakpoint
CREATE INDEX "events_merchant_time_idx" ON ONLY "events" USING btree ("merchant_id","timestamp" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "events_merchant_type_time_idx" ON ONLY "events" USING btree ("merchant_id","type","timestamp" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "events_merchant_tag_time_idx" ON ONLY "events" USING btree ("merchant_id","tag_id","timestamp" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "events_partner_time_idx" ON ONLY "events" USING btree ("partner_id","timestamp" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "events_partner_type_time_idx" ON ONLY "events" USING btree ("partner_id","type","timestamp" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "events_partner_visitor_time_idx" ON ONLY "events" USING btree ("partner_id","visitor_id","timestamp" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "events_partner_session_time_idx" ON ONLY "events" USING btree ("partner_id","session_id","timestamp" DESC NULLS LAST,"id" DESC NULLS LAST) WHERE "session_id" is not null;--> statement-breakpoint
CREATE INDEX "events_id_idx" ON ONLY "events" USING btree ("id");
--> statement-breakpoint
-- The two stored indexes that already have the new shape serve as the old partition's own.
DO $$
BEGIN
  IF to_regclass('"events_legacy"') IS NOT NULL THEN
    ALTER INDEX "events_merchant_type_time_idx" ATTACH PARTITION "events_legacy_merchant_type_time_idx";
    ALTER INDEX "events_partner_time_idx" ATTACH PARTITION "events_legacy_partner_time_idx";
  END IF;
END
$$;
