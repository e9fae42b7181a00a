import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres } from '../src/db/client.js';
import { marktags } from '../src/db/schema/index.js';
import type { CreatePartnerResponse } from '../src/modules/admin/schemas.js';
import type { GenerateResponse, TagDetails } from '../src/modules/marktags/schemas.js';
import type { RecheckSummary, Reverifier } from '../src/modules/marktags/reverifier.js';
import type { MerchantDetails } from '../src/modules/merchants/schemas.js';
import { generateToken } from '../src/modules/tokens/token-format.js';
import { bearer, createTestApp, errorOf, type TestContext } from './helpers/app.js';
import { withFault } from './helpers/broken-database.js';
import { testDatabase } from './helpers/database.js';
import { TestDnsServer } from './helpers/dns-server.js';
import { createMerchant, createPartner } from './helpers/factories.js';

const TARGET = 'mtag.markopolo.ai';
const DNS_TIMEOUT_MS = 1500;

let dns: TestDnsServer;
let ctx: TestContext;

beforeAll(async () => {
  dns = await TestDnsServer.start();
  ctx = await createTestApp({
    MARKTAG_DNS_SERVERS: `${dns.address.host}:${dns.address.port}`,
    MARKTAG_DNS_TIMEOUT_MS: String(DNS_TIMEOUT_MS),
    MARKTAG_REVERIFY_INTERVAL: 'off',
    MARKTAG_PUBLIC_URL: 'https://api.marktag.test',
  });
});
afterAll(async () => {
  await ctx.app.close();
  await dns.close();
});

const snippetFor = (host: string, tagId: string) =>
  `<script>window.mtag=window.mtag||function(){(mtag.q=mtag.q||[]).push(arguments)}</script>\n<script async src="https://${host}/mtag.js" data-tag-id="${tagId}"></script>`;

/** A registrable domain no other test uses (`.test` is not a public suffix list entry: tldts treats it as a TLD). */
const freshDomain = () => `d${randomUUID().slice(0, 8)}.test`;

interface Setup {
  partner: CreatePartnerResponse;
  merchantId: string;
}

async function setup(domain?: string): Promise<Setup> {
  const partner = await createPartner(ctx.app, domain ? { domain } : {});
  return { partner, merchantId: await createMerchant(ctx.app, partner.token) };
}

async function generate(token: string, body: unknown, app = ctx.app) {
  return app.inject({ method: 'POST', url: '/v1/partners/marktag/generate', headers: bearer(token), payload: body as object });
}

async function verify(token: string, tagId: string, subdomain: string, app = ctx.app) {
  return app.inject({ method: 'POST', url: '/v1/partners/marktag/verify', headers: bearer(token), payload: { tagId, subdomain } });
}

async function details(token: string, tagId: string): Promise<TagDetails> {
  const response = await ctx.app.inject({ method: 'GET', url: `/v1/partners/marktag/${tagId}`, headers: bearer(token) });
  expect(response.statusCode).toBe(200);
  return response.json<TagDetails>();
}

async function customTag(domain = freshDomain()): Promise<Setup & { domain: string; tagId: string }> {
  const s = await setup();
  const response = await generate(s.partner.token, { merchantId: s.merchantId, domain });
  expect(response.statusCode).toBe(200);
  return { ...s, domain, tagId: response.json<GenerateResponse>().tagId };
}

describe('POST /v1/partners/marktag/generate', () => {
  it('creates a custom-domain tag exactly as documented, then retrieves the same tag', async () => {
    const { partner, merchantId } = await setup();
    const domain = freshDomain();
    const first = await generate(partner.token, { merchantId, domain });
    expect(first.statusCode).toBe(200);
    const body = first.json<GenerateResponse>();
    expect(body).toEqual({
      tagId: expect.stringMatching(/^[0-9a-f-]{36}$/) as string,
      record: { type: 'CNAME', name: 'mtag', value: TARGET, ttl: 300 },
      status: 'inactive',
      message: 'New tag created successfully',
    });
    expect(Object.keys(body)).toEqual(['tagId', 'record', 'status', 'message']);

    const again = await generate(partner.token, { merchantId, domain: domain.toUpperCase() });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual({ ...body, message: 'Existing tag retrieved' });
    expect((await details(partner.token, body.tagId)).domain).toBe(domain);
  });

  it('gives one merchant several tags on different domains, listed on the merchant', async () => {
    const { partner, merchantId } = await setup();
    const root = freshDomain();
    const a = (await generate(partner.token, { merchantId, domain: root })).json<GenerateResponse>();
    const b = (await generate(partner.token, { merchantId, domain: `shop.${root}` })).json<GenerateResponse>();
    expect(a.tagId).not.toBe(b.tagId);
    const merchant = await ctx.app.inject({ method: 'GET', url: `/v1/partners/merchant/${merchantId}`, headers: bearer(partner.token) });
    expect(merchant.json<MerchantDetails>().marktags).toEqual([
      { hostname: root, tagId: a.tagId, status: 'inactive', createdAt: expect.any(String) as string },
      { hostname: `shop.${root}`, tagId: b.tagId, status: 'inactive', createdAt: expect.any(String) as string },
    ]);
  });

  it('preverifies the partner domain and its subdomains, not look-alikes', async () => {
    const partnerDomain = freshDomain();
    const { partner, merchantId } = await setup(partnerDomain);
    const statusOf = async (domain: string) => (await generate(partner.token, { merchantId, domain })).json<GenerateResponse>().status;
    expect(await statusOf(partnerDomain)).toBe('active');
    expect(await statusOf(`shop.${partnerDomain}`)).toBe('active');
    expect(await statusOf(`a.b.${partnerDomain.toUpperCase()}`)).toBe('active');
    expect(await statusOf(`not${partnerDomain}`)).toBe('inactive');
    expect(await statusOf(`${partnerDomain}.evil.com`)).toBe('inactive');

    const tagId = (await generate(partner.token, { merchantId, domain: `shop.${partnerDomain}` })).json<GenerateResponse>().tagId;
    expect(await details(partner.token, tagId)).toMatchObject({
      preverified: true,
      status: 'active',
      isConnected: true,
      isVerified: true,
      trackingHost: `mtag.${partnerDomain}`,
      snippet: snippetFor(`mtag.${partnerDomain}`, tagId),
    });
  });

  it('gives one tag to concurrent requests for the same merchant and domain', async () => {
    const { partner, merchantId } = await setup();
    const domain = freshDomain();
    const answers = await Promise.all(Array.from({ length: 12 }, () => generate(partner.token, { merchantId, domain })));
    expect(answers.map((a) => a.statusCode)).toEqual(Array(12).fill(200));
    const bodies = answers.map((a) => a.json<GenerateResponse>());
    expect(new Set(bodies.map((b) => b.tagId)).size).toBe(1);
    expect(bodies.filter((b) => b.message === 'New tag created successfully')).toHaveLength(1);
  });

  it.each<[object, string, string]>([
    [{ domain: 'example.com' }, 'merchantId', 'merchantId is required'],
    [{ merchantId: 'not-a-uuid', domain: 'example.com' }, 'merchantId', 'merchantId must be a valid UUID'],
    [{ merchantId: '00000000-0000-4000-8000-000000000000' }, 'domain', 'domain is required'],
    ...['https://example.com', 'http://example.com', 'www.example.com', 'WWW.example.com', 'Www.Example.com', 'HTTPS://example.com', 'example', 'example.c', 'example.123', 'exa mple.com', 'example.com/path', ''].map(
      (domain): [object, string, string] => [
        { merchantId: '00000000-0000-4000-8000-000000000000', domain },
        'domain',
        'domain must be a valid domain without protocol or www prefix',
      ],
    ),
  ])('refuses %j with 400 VALIDATION_ERROR', async (body, field, message) => {
    const { partner } = await setup();
    const response = await generate(partner.token, body);
    expect(response.statusCode).toBe(400);
    expect(errorOf(response)).toMatchObject({ code: 'VALIDATION_ERROR', message, details: [{ field, message }] });
  });

  it('refuses domains DNS cannot hold, and public suffixes, with 400 VALIDATION_ERROR', async () => {
    const { partner, merchantId } = await setup();
    for (const [domain, message] of [
      [`${'a'.repeat(64)}.com`, 'domain must have labels of at most 63 characters'],
      ['-x.com', 'domain must not have a label that starts or ends with a hyphen'],
      ['x-.com', 'domain must not have a label that starts or ends with a hyphen'],
      ['shop.-x.com', 'domain must not have a label that starts or ends with a hyphen'],
      ['co.uk', 'domain cannot be processed: co.uk is a public suffix, not a domain someone can register'],
    ] as const) {
      const response = await generate(partner.token, { merchantId, domain });
      expect(response.statusCode).toBe(400);
      expect(errorOf(response)).toMatchObject({ code: 'VALIDATION_ERROR', message });
    }
  });

  it('answers 404 MERCHANT_NOT_FOUND for an unknown merchant and for another partner’s', async () => {
    const mine = await setup();
    const theirs = await setup();
    for (const merchantId of [randomUUID(), theirs.merchantId]) {
      const response = await generate(mine.partner.token, { merchantId, domain: freshDomain() });
      expect(response.statusCode).toBe(404);
      expect(errorOf(response)).toMatchObject({ code: 'MERCHANT_NOT_FOUND', message: "Merchant doesn't exist or doesn't belong to partner" });
    }
  });

  it('answers 500 VALIDATION_ERROR when an existing tag lacks its configuration', async () => {
    const { partner, merchantId, domain, tagId } = await customTag();
    await ctx.database.db.execute(sql`update marktags set record_value = null where id = ${tagId}`);
    const response = await generate(partner.token, { merchantId, domain });
    expect(response.statusCode).toBe(500);
    expect(errorOf(response)).toMatchObject({ code: 'VALIDATION_ERROR', message: 'Tag configuration incomplete: the tag has no CNAME record' });
  });

  it('answers 500 DATABASE_ERROR when the database refuses the write, and 500 SERVICE_UNAVAILABLE on any other fault', async () => {
    for (const [kind, code] of [
      ['write-violates-check', 'DATABASE_ERROR'],
      ['insert-throws', 'SERVICE_UNAVAILABLE'],
    ] as const) {
      const faulty = await createTestApp({}, { database: withFault(await testDatabase(), { kind, table: marktags }) });
      try {
        const { token } = await createPartner(faulty.app);
        const merchantId = await createMerchant(faulty.app, token);
        const response = await generate(token, { merchantId, domain: freshDomain() }, faulty.app);
        expect(response.statusCode).toBe(500);
        expect(errorOf(response).code).toBe(code);
        expect(response.body).not.toMatch(/hunter2|marktags_status_check|violates/);
      } finally {
        await faulty.app.close();
      }
    }
  });

  it('answers 503 SERVICE_UNAVAILABLE when the database cannot be reached', async () => {
    const down = await createTestApp({}, { database: openPostgres('postgres://marktag@127.0.0.1:9/none', { connectionTimeoutMillis: 500 }) });
    try {
      const response = await generate(generateToken(), { merchantId: randomUUID(), domain: 'example.com' }, down.app);
      expect(response.statusCode).toBe(503);
      expect(errorOf(response).code).toBe('SERVICE_UNAVAILABLE');
      expect(response.headers['retry-after']).toBeDefined();
    } finally {
      await down.app.close();
      await down.database.close();
    }
  });
});

describe('POST /v1/partners/marktag/verify', () => {
  it.each([
    ['the CNAME on <record>.<subdomain>', (root: string) => `mtag.shop.${root}`],
    ['the CNAME on <subdomain>', (root: string) => `shop.${root}`],
    ['the CNAME on <record>.<root domain>', (root: string) => `mtag.${root}`],
  ])('verifies through %s', async (_label, hostOf) => {
    const { partner, merchantId, domain, tagId } = await customTag();
    dns.set(hostOf(domain), { cname: TARGET });
    const response = await verify(partner.token, tagId, `shop.${domain}`);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ verified: true });

    const tag = await details(partner.token, tagId);
    expect(tag).toMatchObject({
      status: 'waiting_for_events',
      isConnected: true,
      isVerified: true,
      hostname: `shop.${domain}`,
      trackingHost: hostOf(domain),
      snippet: snippetFor(hostOf(domain), tagId),
    });
    expect(tag.verifiedAt).not.toBeNull();
    const merchant = await ctx.app.inject({ method: 'GET', url: `/v1/partners/merchant/${merchantId}`, headers: bearer(partner.token) });
    expect(merchant.json<MerchantDetails>().marktags).toMatchObject([{ hostname: `shop.${domain}`, tagId, status: 'waiting_for_events' }]);
  });

  it('prefers the first candidate in the documented order', async () => {
    const { partner, domain, tagId } = await customTag();
    dns.set(`mtag.${domain}`, { cname: TARGET });
    dns.set(`mtag.shop.${domain}`, { cname: TARGET });
    expect((await verify(partner.token, tagId, `shop.${domain}`)).statusCode).toBe(200);
    expect((await details(partner.token, tagId)).trackingHost).toBe(`mtag.shop.${domain}`);
  });

  it('follows CNAME chains and compares the target case-insensitively, without the trailing dot', async () => {
    const { partner, domain, tagId } = await customTag();
    dns.set(`mtag.shop.${domain}`, { cname: `edge.${domain}` });
    dns.set(`edge.${domain}`, { cname: 'cdn.provider.test' });
    dns.set('cdn.provider.test', { cname: 'MTAG.Markopolo.AI.' });
    expect((await verify(partner.token, tagId, `SHOP.${domain.toUpperCase()}`)).statusCode).toBe(200);
    expect((await details(partner.token, tagId)).hostname).toBe(`shop.${domain}`);
  });

  it('answers 422 naming every host checked and what it resolved to', async () => {
    const { partner, domain, tagId } = await customTag();
    dns.set(`mtag.shop.${domain}`, { cname: 'elsewhere.example.test' });
    dns.set(`shop.${domain}`, { a: '192.0.2.1' }); // exists, but no CNAME: NODATA
    // mtag.<root> is absent: NXDOMAIN
    const response = await verify(partner.token, tagId, `shop.${domain}`);
    expect(response.statusCode).toBe(422);
    const error = errorOf(response);
    expect(error.code).toBe('VALIDATION_ERROR');
    expect(error.message).toContain(`none of mtag.shop.${domain}, shop.${domain}, mtag.${domain} is a CNAME to ${TARGET}`);
    expect(error.details).toEqual([
      {
        field: 'subdomain',
        host: `mtag.shop.${domain}`,
        resolvedTo: ['elsewhere.example.test'],
        message: `mtag.shop.${domain} → elsewhere.example.test: points to elsewhere.example.test, not to ${TARGET}`,
      },
      { field: 'subdomain', host: `shop.${domain}`, resolvedTo: [], message: `shop.${domain}: has no CNAME record` },
      { field: 'subdomain', host: `mtag.${domain}`, resolvedTo: [], message: `mtag.${domain}: no DNS record (the name does not exist)` },
    ]);
    expect((await details(partner.token, tagId)).status).toBe('inactive');
  });

  it('checks DNS again on every call, even with the same Idempotency-Key: a fixed record verifies', async () => {
    const { partner, domain, tagId } = await customTag();
    const key = randomUUID();
    const withKey = () =>
      ctx.app.inject({
        method: 'POST',
        url: '/v1/partners/marktag/verify',
        headers: { ...bearer(partner.token), 'idempotency-key': key },
        payload: { tagId, subdomain: `shop.${domain}` },
      });
    dns.set(`mtag.shop.${domain}`, { cname: 'elsewhere.example.test' });
    const refused = await withKey();
    expect(refused.statusCode).toBe(422);
    expect(errorOf(refused).code).toBe('VALIDATION_ERROR');

    // The merchant fixes the record and retries the very same request.
    dns.set(`mtag.shop.${domain}`, { cname: TARGET });
    const fixed = await withKey();
    expect(fixed.statusCode, fixed.body).toBe(200);
    expect(fixed.headers['idempotent-replayed']).toBeUndefined();
    expect(fixed.json()).toEqual({ verified: true });
    expect((await details(partner.token, tagId)).status).toBe('waiting_for_events');
  });

  it('detects CNAME loops and chains longer than 8 hops', async () => {
    const { partner, domain, tagId } = await customTag();
    dns.set(`mtag.shop.${domain}`, { cname: `loop-a.${domain}` });
    dns.set(`loop-a.${domain}`, { cname: `loop-b.${domain}` });
    dns.set(`loop-b.${domain}`, { cname: `loop-a.${domain}` });
    for (let hop = 0; hop < 9; hop++) dns.set(`hop${hop}.${domain}`, { cname: `hop${hop + 1}.${domain}` });
    dns.set(`hop9.${domain}`, { cname: TARGET });
    dns.set(`shop.${domain}`, { cname: `hop0.${domain}` });
    const response = await verify(partner.token, tagId, `shop.${domain}`);
    expect(response.statusCode).toBe(422);
    const [loop, long] = errorOf(response).details ?? [];
    expect(loop?.message).toBe(`mtag.shop.${domain} → loop-a.${domain} → loop-b.${domain} → loop-a.${domain}: the CNAME chain loops`);
    expect(long?.message).toMatch(/the CNAME chain is longer than 8 hops$/);
    expect(long?.resolvedTo).toHaveLength(8);
  });

  it('verifies with a match even when another candidate cannot be resolved', async () => {
    const { partner, domain, tagId } = await customTag();
    dns.set(`mtag.shop.${domain}`, { cname: TARGET });
    dns.set(`shop.${domain}`, 'servfail');
    expect((await verify(partner.token, tagId, `shop.${domain}`)).statusCode).toBe(200);
  });

  it.each(['servfail', 'refused', 'drop'] as const)('answers 503 EXTERNAL_SERVICE_ERROR within the deadline when DNS answers %s', async (failure) => {
    const { partner, domain, tagId } = await customTag();
    dns.set(`mtag.shop.${domain}`, failure);
    const started = Date.now();
    const response = await verify(partner.token, tagId, `shop.${domain}`);
    expect(Date.now() - started).toBeLessThan(DNS_TIMEOUT_MS + 1000);
    expect(response.statusCode).toBe(503);
    expect(errorOf(response).code).toBe('EXTERNAL_SERVICE_ERROR');
    expect(response.headers['retry-after']).toBe('30');
    expect((await details(partner.token, tagId)).isVerified).toBe(false);
  });

  it('answers 503 EXTERNAL_SERVICE_ERROR within the deadline when the DNS server never answers', async () => {
    const silent = await TestDnsServer.start({ silent: true });
    const app = await createTestApp({ MARKTAG_DNS_SERVERS: `127.0.0.1:${silent.address.port}`, MARKTAG_DNS_TIMEOUT_MS: '1000' });
    try {
      const { token } = await createPartner(app.app);
      const merchantId = await createMerchant(app.app, token);
      const domain = freshDomain();
      const { tagId } = (await generate(token, { merchantId, domain }, app.app)).json<GenerateResponse>();
      const started = Date.now();
      const response = await verify(token, tagId, domain, app.app);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(response.statusCode).toBe(503);
      expect(errorOf(response).code).toBe('EXTERNAL_SERVICE_ERROR');
    } finally {
      await app.app.close();
      await silent.close();
    }
  });

  it('verifies a preverified tag without DNS', async () => {
    const partnerDomain = freshDomain();
    const { partner, merchantId } = await setup(partnerDomain);
    const { tagId } = (await generate(partner.token, { merchantId, domain: partnerDomain })).json<GenerateResponse>();
    const asked = dns.queries.length;
    const response = await verify(partner.token, tagId, `store.${partnerDomain}`);
    expect(response.statusCode).toBe(200);
    expect(dns.queries.length).toBe(asked);
    expect(await details(partner.token, tagId)).toMatchObject({ status: 'active', hostname: `store.${partnerDomain}`, trackingHost: `mtag.${partnerDomain}` });
  });

  it('keeps an active tag active when it is verified again', async () => {
    const { partner, domain, tagId } = await customTag();
    dns.set(`mtag.${domain}`, { cname: TARGET });
    expect((await verify(partner.token, tagId, domain)).statusCode).toBe(200);
    await ctx.database.db.execute(sql`update marktags set status = 'active' where id = ${tagId}`);
    expect((await verify(partner.token, tagId, domain)).statusCode).toBe(200);
    expect((await details(partner.token, tagId)).status).toBe('active');
  });

  it('answers 404 TAG_NOT_FOUND for an unknown tag and 403 ACCESS_DENIED for another partner’s', async () => {
    const { tagId, domain } = await customTag();
    const other = await setup();
    const unknown = await verify(other.partner.token, randomUUID(), `shop.${domain}`);
    expect(unknown.statusCode).toBe(404);
    expect(errorOf(unknown)).toMatchObject({ code: 'TAG_NOT_FOUND', message: 'Tag not found' });
    const foreign = await verify(other.partner.token, tagId, `shop.${domain}`);
    expect(foreign.statusCode).toBe(403);
    expect(errorOf(foreign).code).toBe('ACCESS_DENIED');
  });

  it.each([
    [{ subdomain: 'shop.example.com' }, 'tagId', 'tagId is required'],
    [{ tagId: 'nope', subdomain: 'shop.example.com' }, 'tagId', 'tagId must be a valid UUID'],
    [{ tagId: '00000000-0000-4000-8000-000000000000' }, 'subdomain', 'subdomain is required'],
    [{ tagId: '00000000-0000-4000-8000-000000000000', subdomain: 'https://shop.example.com' }, 'subdomain', 'subdomain must be a valid subdomain without protocol'],
    [{ tagId: '00000000-0000-4000-8000-000000000000', subdomain: 'localhost' }, 'subdomain', 'subdomain must be a valid subdomain without protocol'],
    [{ tagId: '00000000-0000-4000-8000-000000000000', subdomain: 'HTTPS://shop.example.com' }, 'subdomain', 'subdomain must be a valid subdomain without protocol'],
  ])('refuses %j with 400 VALIDATION_ERROR', async (payload, field, message) => {
    const { partner } = await setup();
    const response = await ctx.app.inject({ method: 'POST', url: '/v1/partners/marktag/verify', headers: bearer(partner.token), payload });
    expect(response.statusCode).toBe(400);
    expect(errorOf(response)).toMatchObject({ code: 'VALIDATION_ERROR', message, details: [{ field, message }] });
  });

  it('refuses a subdomain of another registrable domain, and a tag lacking its configuration, with 400', async () => {
    const { partner, domain, tagId } = await customTag();
    const elsewhere = await verify(partner.token, tagId, `shop.${freshDomain()}`);
    expect(elsewhere.statusCode).toBe(400);
    expect(errorOf(elsewhere)).toMatchObject({
      code: 'VALIDATION_ERROR',
      message: `subdomain must be ${domain} or one of its subdomains, the domain of this tag`,
    });
    for (const subdomain of [`-shop.${domain}`, `shop-.${domain}`]) {
      const hyphen = await verify(partner.token, tagId, subdomain);
      expect(hyphen.statusCode).toBe(400);
      expect(errorOf(hyphen)).toMatchObject({ code: 'VALIDATION_ERROR', message: 'subdomain must not have a label that starts or ends with a hyphen' });
    }

    await ctx.database.db.execute(sql`update marktags set record_name = null where id = ${tagId}`);
    const incomplete = await verify(partner.token, tagId, `shop.${domain}`);
    expect(incomplete.statusCode).toBe(400);
    expect(errorOf(incomplete).code).toBe('VALIDATION_ERROR');
  });

  it('answers 500 DATABASE_ERROR when the database refuses the update', async () => {
    const faulty = await createTestApp(
      { MARKTAG_DNS_SERVERS: `${dns.address.host}:${dns.address.port}` },
      { database: withFault(await testDatabase(), { kind: 'write-violates-check', table: marktags }) },
    );
    try {
      const { partner, domain, tagId } = await customTag();
      dns.set(`mtag.${domain}`, { cname: TARGET });
      const response = await verify(partner.token, tagId, domain, faulty.app);
      expect(response.statusCode).toBe(500);
      expect(errorOf(response).code).toBe('DATABASE_ERROR');
      expect((await details(partner.token, tagId)).isVerified).toBe(false);
    } finally {
      await faulty.app.close();
    }
  });
});

describe('one domain, one owner', () => {
  it('asks a second partner for the TXT record, then disconnects the first partner’s tag', async () => {
    const domain = freshDomain();
    const first = await customTag(domain);
    dns.set(`mtag.${domain}`, { cname: TARGET });
    expect((await verify(first.partner.token, first.tagId, domain)).statusCode).toBe(200);

    // The same partner's second tag on the domain needs no proof.
    const sameSecond = await generate(first.partner.token, { merchantId: first.merchantId, domain: `blog.${domain}` });
    expect((await verify(first.partner.token, sameSecond.json<GenerateResponse>().tagId, domain)).statusCode).toBe(200);

    const second = await customTag(domain);
    const refused = await verify(second.partner.token, second.tagId, domain);
    expect(refused.statusCode).toBe(422);
    const error = errorOf(refused);
    expect(error.code).toBe('VALIDATION_ERROR');
    expect(error.message).toContain(`also add the TXT record _marktag.${domain} with the value marktag-verify=${second.tagId}`);
    expect(error.details?.[0]).toMatchObject({ host: `_marktag.${domain}` });
    expect((await details(first.partner.token, first.tagId)).isConnected).toBe(true);

    dns.set(`_marktag.${domain}`, { txt: ['v=spf1 -all', `marktag-verify=${first.tagId}`] });
    expect((await verify(second.partner.token, second.tagId, domain)).statusCode).toBe(422);

    dns.set(`_marktag.${domain}`, { txt: ['v=spf1 -all', `marktag-verify=${second.tagId}`] });
    const proven = await verify(second.partner.token, second.tagId, domain);
    expect(proven.statusCode).toBe(200);
    expect(await details(second.partner.token, second.tagId)).toMatchObject({ isConnected: true, isVerified: true, status: 'waiting_for_events' });
    expect(await details(first.partner.token, first.tagId)).toMatchObject({ isConnected: false, status: 'inactive' });
  });
});

/**
 * A pass that treats every tag as due. A pass skips tags checked at or after its own start, and
 * PGlite's clock moves in whole milliseconds: the pause keeps the previous pass's checks before it.
 */
async function recheckNow(reverifier: Reverifier, partnerId: string): Promise<RecheckSummary> {
  await new Promise((resolve) => setTimeout(resolve, 2));
  return reverifier.runOnce({ partnerId, dueAfterMs: 0 });
}

describe('background re-verification', () => {
  it('disconnects a tag after three consecutive definite failures, ignores outages, and a verify restores it', async () => {
    const { partner, domain, tagId } = await customTag();
    const host = `mtag.${domain}`;
    dns.set(host, { cname: TARGET });
    expect((await verify(partner.token, tagId, domain)).statusCode).toBe(200);
    const reverifier = ctx.app.services.reverifier;
    const run = () => recheckNow(reverifier, partner.partnerId);

    expect(await run()).toMatchObject({ checked: 1, passed: 1 });
    dns.set(host, { cname: 'somewhere-else.test' });
    expect(await run()).toMatchObject({ failed: 1, disconnected: 0 });
    dns.set(host, undefined);
    expect(await run()).toMatchObject({ failed: 1, disconnected: 0 });
    dns.set(host, 'servfail');
    expect(await run()).toMatchObject({ inconclusive: 1, disconnected: 0 });
    expect((await details(partner.token, tagId)).isConnected).toBe(true);
    dns.set(host, undefined);
    expect(await run()).toMatchObject({ failed: 1, disconnected: 1 });
    expect(await details(partner.token, tagId)).toMatchObject({ isConnected: false, status: 'inactive' });
    expect(await run()).toMatchObject({ checked: 0 });

    dns.set(host, { cname: TARGET });
    expect((await verify(partner.token, tagId, domain)).statusCode).toBe(200);
    expect(await details(partner.token, tagId)).toMatchObject({ isConnected: true, status: 'waiting_for_events' });
  });

  it('resets the failure count when the record comes back', async () => {
    const { partner, domain, tagId } = await customTag();
    const host = `mtag.${domain}`;
    dns.set(host, { cname: TARGET });
    await verify(partner.token, tagId, domain);
    const run = () => recheckNow(ctx.app.services.reverifier, partner.partnerId);
    dns.set(host, undefined);
    expect(await run()).toMatchObject({ failed: 1 });
    expect(await run()).toMatchObject({ failed: 1 });
    dns.set(host, { cname: TARGET });
    expect(await run()).toMatchObject({ passed: 1 });
    dns.set(host, undefined);
    expect(await run()).toMatchObject({ failed: 1 });
    expect(await run()).toMatchObject({ failed: 1, disconnected: 0 });
    expect((await details(partner.token, tagId)).isConnected).toBe(true);
  });
});

describe('GET /v1/partners/marktag/{tagId}', () => {
  it('describes an unverified custom tag with the snippet for its expected host', async () => {
    const { partner, merchantId, domain, tagId } = await customTag();
    expect(await details(partner.token, tagId)).toEqual({
      tagId,
      merchantId,
      domain,
      hostname: domain,
      preverified: false,
      status: 'inactive',
      isConnected: false,
      isVerified: false,
      record: { type: 'CNAME', name: 'mtag', value: TARGET, ttl: 300 },
      trackingHost: null,
      snippet: snippetFor(`mtag.${domain}`, tagId),
      createdAt: expect.any(String) as string,
      verifiedAt: null,
      lastEventAt: null,
      diagnostics: { ignoredEvents: { bot: 0 }, lastIgnoredAt: null },
    });
  });

  it('answers 404 TAG_NOT_FOUND for an unknown tag and for another partner’s', async () => {
    const { tagId } = await customTag();
    const other = await setup();
    for (const id of [tagId, randomUUID()]) {
      const response = await ctx.app.inject({ method: 'GET', url: `/v1/partners/marktag/${id}`, headers: bearer(other.partner.token) });
      expect(response.statusCode).toBe(404);
      expect(errorOf(response).code).toBe('TAG_NOT_FOUND');
    }
  });
});
