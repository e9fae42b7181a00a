CREATE TABLE "events" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
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
	"device_os" text,
	CONSTRAINT "events_tag_event_key" UNIQUE("tag_id","event_id")
);
--> statement-breakpoint
CREATE INDEX "events_merchant_time_idx" ON "events" USING btree ("merchant_id","timestamp" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "events_merchant_type_time_idx" ON "events" USING btree ("merchant_id","type","timestamp" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "events_partner_time_idx" ON "events" USING btree ("partner_id","timestamp" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "events_visitor_time_idx" ON "events" USING btree ("visitor_id","timestamp" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "events_session_time_idx" ON "events" USING btree ("session_id","timestamp" DESC NULLS LAST,"id" DESC NULLS LAST) WHERE "events"."session_id" is not null;