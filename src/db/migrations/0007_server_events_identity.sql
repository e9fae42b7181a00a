-- Server-side events, identity and attribution (contracts/server-events.md). Every new events column
-- is nullable or has a constant default, so adding it rewrites no partition. The two new events
-- indexes are declared on the parent alone (ON ONLY) and built on each partition CONCURRENTLY after
-- this transaction (src/db/partition-indexes.ts), as in 0006: an upgrade does not stop ingestion.
-- Events stored before it have source 'browser' and no attribution (null).
CREATE TABLE "sessions" (
	"merchant_id" uuid NOT NULL,
	"session_id" text NOT NULL,
	"partner_id" uuid NOT NULL,
	"visitor_id" text NOT NULL,
	"user_id" text,
	"started_at" timestamp with time zone NOT NULL,
	"attr_source" text NOT NULL,
	"attr_medium" text NOT NULL,
	"attr_campaign" text,
	"attr_term" text,
	"attr_content" text,
	"channel" text NOT NULL,
	"click_id_type" text,
	"referrer_host" text,
	"landing_page" text,
	CONSTRAINT "sessions_pkey" PRIMARY KEY("merchant_id","session_id")
);
--> statement-breakpoint
CREATE TABLE "identities" (
	"merchant_id" uuid NOT NULL,
	"user_id" text NOT NULL,
	"partner_id" uuid NOT NULL,
	"email_sha256" text,
	"phone_sha256" text,
	"first_seen_at" timestamp with time zone NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	CONSTRAINT "identities_pkey" PRIMARY KEY("merchant_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "visitor_users" (
	"merchant_id" uuid NOT NULL,
	"visitor_id" text NOT NULL,
	"partner_id" uuid NOT NULL,
	"user_id" text NOT NULL,
	"linked_at" timestamp with time zone NOT NULL,
	CONSTRAINT "visitor_users_pkey" PRIMARY KEY("merchant_id","visitor_id")
);
--> statement-breakpoint
CREATE TABLE "tag_activity" (
	"tag_id" uuid PRIMARY KEY NOT NULL,
	"partner_id" uuid NOT NULL,
	"last_browser_event_at" timestamp with time zone,
	"last_server_event_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "tag_counts" (
	"tag_id" uuid NOT NULL,
	"partner_id" uuid NOT NULL,
	"hour" timestamp with time zone NOT NULL,
	"outcome" text NOT NULL,
	"count" bigint NOT NULL,
	"last_at" timestamp with time zone NOT NULL,
	CONSTRAINT "tag_counts_pkey" PRIMARY KEY("tag_id","hour","outcome")
);
--> statement-breakpoint
ALTER TABLE "events" ALTER COLUMN "url" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "merchants" ADD COLUMN "keep_query_params" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "source" text DEFAULT 'browser' NOT NULL;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "user_id" text;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "country" text;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "attr_source" text;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "attr_medium" text;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "attr_campaign" text;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "attr_term" text;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "attr_content" text;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "channel" text;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "click_id_type" text;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "referrer_host" text;--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "landing_page" text;--> statement-breakpoint
ALTER TABLE "tag_activity" ADD CONSTRAINT "tag_activity_tag_id_marktags_id_fk" FOREIGN KEY ("tag_id") REFERENCES "public"."marktags"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tag_counts" ADD CONSTRAINT "tag_counts_tag_id_marktags_id_fk" FOREIGN KEY ("tag_id") REFERENCES "public"."marktags"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "sessions_visitor_started_idx" ON "sessions" USING btree ("merchant_id","visitor_id","started_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "sessions_user_started_idx" ON "sessions" USING btree ("merchant_id","user_id","started_at" DESC NULLS LAST) WHERE "sessions"."user_id" is not null;--> statement-breakpoint
CREATE INDEX "visitor_users_user_idx" ON "visitor_users" USING btree ("merchant_id","user_id","linked_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "events_partner_user_time_idx" ON ONLY "events" USING btree ("partner_id","user_id","timestamp" DESC NULLS LAST,"id" DESC NULLS LAST) WHERE "user_id" is not null;--> statement-breakpoint
CREATE INDEX "events_partner_server_time_idx" ON ONLY "events" USING btree ("partner_id","merchant_id","timestamp" DESC NULLS LAST,"id" DESC NULLS LAST) WHERE "source" = 'server';