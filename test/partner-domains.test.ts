import { randomUUID } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS_FOLDER } from '../src/db/migrate.js';
import { migrationsBefore } from './helpers/migrations.js';
import { ADMIN_TOKEN, bearer, createTestApp, errorOf, type TestContext } from './helpers/app.js';

/** Issue 12: a partner domain preverifies every tag under it, so it belongs to one partner only. */
let ctx: TestContext;
beforeAll(async () => {
  ctx = await createTestApp();
});
afterAll(async () => ctx.app.close());

const fresh = () => `pd${randomUUID().slice(0, 8)}.test`;
const createPartner = (domain: string) =>
  ctx.admin.inject({ method: 'POST', url: '/v1/admin/partners', headers: bearer(ADMIN_TOKEN), payload: { name: 'Partner', domain } });

describe('partner domains', () => {
  it('refuses a domain another partner holds, ignoring case, with 409 DOMAIN_TAKEN', async () => {
    const domain = fresh();
    expect((await createPartner(domain)).statusCode).toBe(201);
    for (const again of [domain, domain.toUpperCase(), `${domain[0]?.toUpperCase() ?? ''}${domain.slice(1)}`]) {
      const response = await createPartner(again);
      expect(response.statusCode, again).toBe(409);
      const message = `The domain ${domain} is already the domain of another partner`;
      expect(errorOf(response)).toMatchObject({ code: 'DOMAIN_TAKEN', message, details: [{ field: 'domain', message }] });
    }
  });

  it('refuses a domain under another partner’s domain, and one above it', async () => {
    const parent = fresh();
    expect((await createPartner(parent)).statusCode).toBe(201);
    const under = await createPartner(`Shop.${parent}`);
    expect(under.statusCode).toBe(409);
    expect(errorOf(under)).toMatchObject({ code: 'DOMAIN_TAKEN', message: `The domain shop.${parent} lies under ${parent}, the domain of another partner` });

    const child = `eu.shop.${fresh()}`;
    expect((await createPartner(child)).statusCode).toBe(201);
    const above = child.slice('eu.shop.'.length);
    for (const domain of [above, `shop.${above}`]) {
      const response = await createPartner(domain);
      expect(response.statusCode, domain).toBe(409);
      expect(errorOf(response)).toMatchObject({ code: 'DOMAIN_TAKEN', message: `The domain ${domain} contains ${child}, the domain of another partner` });
    }
  });

  it('accepts look-alikes and siblings, which are other domains', async () => {
    const domain = fresh();
    expect((await createPartner(`a.${domain}`)).statusCode).toBe(201);
    expect((await createPartner(`b.${domain}`)).statusCode).toBe(201);
    expect((await createPartner(`not${domain}`)).statusCode).toBe(201);
    expect((await createPartner(`${domain.replace('.test', '')}.example`)).statusCode).toBe(201);
  });

  it('lets only one of concurrent overlapping claims succeed', async () => {
    const domain = fresh();
    // Every two of these overlap, so exactly one can win whichever takes the lock first (a sibling
    // such as x.<domain> would rightly win beside shop.<domain> when that one came first).
    const claims = [domain, `shop.${domain}`, domain.toUpperCase(), `eu.shop.${domain}`, domain, `SHOP.${domain}`, `eu.SHOP.${domain}`, domain];
    const answers = await Promise.all(claims.map((claim) => createPartner(claim)));
    expect(answers.filter((a) => a.statusCode === 201)).toHaveLength(1);
    for (const answer of answers.filter((a) => a.statusCode !== 201)) {
      expect(answer.statusCode).toBe(409);
      expect(errorOf(answer).code).toBe('DOMAIN_TAKEN');
    }
  });
});

describe('the migration that makes partner domains unique', () => {
  it('upgrades a database where two partners share a domain: the first claim keeps it', async () => {
    // The migrations as they were before this one, then data an older version allowed, then the upgrade.
    const before = migrationsBefore('_partner_domains_unique');
    const client = await PGlite.create();
    try {
      const db = drizzle({ client });
      await migratePglite(db, { migrationsFolder: before.folder });

      await client.query(`insert into partners (id, name, domain, created_at) values
        ('00000000-0000-4000-8000-000000000001', 'first', 'acme.com', '2026-01-01'),
        ('00000000-0000-4000-8000-000000000002', 'second', 'acme.com', '2026-02-01'),
        ('00000000-0000-4000-8000-000000000003', 'third', 'ACME.com', '2026-03-01'),
        ('00000000-0000-4000-8000-000000000004', 'other', 'other.com', '2026-02-01')`);
      await migratePglite(db, { migrationsFolder: MIGRATIONS_FOLDER });

      const { rows } = await client.query<{ name: string; domain: string | null }>('select name, domain from partners order by name');
      expect(rows).toEqual([
        { name: 'first', domain: 'acme.com' },
        { name: 'other', domain: 'other.com' },
        { name: 'second', domain: null },
        { name: 'third', domain: null },
      ]);
      const duplicate: unknown = await client
        .query(`insert into partners (id, name, domain) values ('00000000-0000-4000-8000-000000000005', 'late', 'Acme.COM')`)
        .catch((error: unknown) => error);
      expect((duplicate as { code?: string }).code).toBe('23505');
    } finally {
      await client.close();
      before.cleanup();
    }
    // A PGlite instance and every migration, twice: seconds on a busy machine.
  }, 60_000);
});
