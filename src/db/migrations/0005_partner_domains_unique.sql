-- A partner domain belongs to one partner. Where an older version let two partners claim the same
-- domain, the first to claim it keeps it and the later claims are cleared (their existing tags are
-- left as they are; new tags under that domain are no longer preverified for them), so this
-- migration never fails on such data. Overlaps ("shop.acme.com" under "acme.com") cannot be
-- expressed by an index: the admin service refuses new ones, existing ones are left alone.
UPDATE "partners" AS later SET "domain" = NULL
WHERE later."domain" IS NOT NULL AND EXISTS (
  SELECT 1 FROM "partners" AS earlier
  WHERE lower(earlier."domain") = lower(later."domain") AND (earlier."created_at", earlier."id") < (later."created_at", later."id")
);--> statement-breakpoint
CREATE UNIQUE INDEX "partners_domain_unique" ON "partners" USING btree (lower("domain"));
