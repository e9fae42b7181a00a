CREATE TABLE "ignored_events" (
	"tag_id" uuid NOT NULL,
	"partner_id" uuid NOT NULL,
	"reason" text NOT NULL,
	"count" bigint NOT NULL,
	"last_ignored_at" timestamp with time zone NOT NULL,
	CONSTRAINT "ignored_events_pkey" PRIMARY KEY("tag_id","reason")
);
--> statement-breakpoint
ALTER TABLE "ignored_events" ADD CONSTRAINT "ignored_events_tag_id_marktags_id_fk" FOREIGN KEY ("tag_id") REFERENCES "public"."marktags"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ignored_events" ADD CONSTRAINT "ignored_events_partner_id_partners_id_fk" FOREIGN KEY ("partner_id") REFERENCES "public"."partners"("id") ON DELETE cascade ON UPDATE no action;