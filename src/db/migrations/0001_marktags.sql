CREATE TABLE "marktags" (
	"id" uuid PRIMARY KEY NOT NULL,
	"partner_id" uuid NOT NULL,
	"merchant_id" uuid NOT NULL,
	"domain" text NOT NULL,
	"root_domain" text NOT NULL,
	"hostname" text NOT NULL,
	"preverified" boolean NOT NULL,
	"status" text NOT NULL,
	"is_connected" boolean DEFAULT false NOT NULL,
	"is_verified" boolean DEFAULT false NOT NULL,
	"record_name" text,
	"record_value" text,
	"tracking_host" text,
	"verified_at" timestamp with time zone,
	"last_event_at" timestamp with time zone,
	"recheck_failures" integer DEFAULT 0 NOT NULL,
	"last_checked_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "marktags_merchant_domain_key" UNIQUE("merchant_id","domain"),
	CONSTRAINT "marktags_status_check" CHECK ("marktags"."status" in ('inactive', 'waiting_for_events', 'active'))
);
--> statement-breakpoint
ALTER TABLE "marktags" ADD CONSTRAINT "marktags_partner_id_partners_id_fk" FOREIGN KEY ("partner_id") REFERENCES "public"."partners"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "marktags" ADD CONSTRAINT "marktags_merchant_id_merchants_id_fk" FOREIGN KEY ("merchant_id") REFERENCES "public"."merchants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "marktags_partner_merchant_created_idx" ON "marktags" USING btree ("partner_id","merchant_id","created_at");--> statement-breakpoint
CREATE INDEX "marktags_root_domain_live_idx" ON "marktags" USING btree ("root_domain") WHERE "marktags"."is_verified" and "marktags"."is_connected";--> statement-breakpoint
CREATE INDEX "marktags_recheck_idx" ON "marktags" USING btree ("last_checked_at") WHERE "marktags"."is_verified" and "marktags"."is_connected" and not "marktags"."preverified";