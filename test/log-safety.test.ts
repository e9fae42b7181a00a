import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgres } from '../src/db/client.js';
import { sql } from 'drizzle-orm';
import { idempotencyKeys, marktags, merchants, partners } from '../src/db/schema/index.js';
import { loggerOptions } from '../src/logger.js';
import { hashToken, generateToken } from '../src/modules/tokens/token-format.js';
import { bearer, createTestApp, type TestContext } from './helpers/app.js';
import type { GenerateResponse } from '../src/modules/marktags/schemas.js';
import { withFault } from './helpers/broken-database.js';
import { testDatabase } from './helpers/database.js';
import { createLiveTag, createMerchant, createPartner } from './helpers/factories.js';

/**
 * Issue 12: database errors carry data (drizzle lists the bound parameters in its message,
 * PostgreSQL quotes values in its message and detail). Each path that logs an error is made to
 * fail with a recognisable value among its parameters: the value never reaches the log, while
 * the SQL state and constraint do.
 */
const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

function capturingLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const errors = () =>
    lines.map((line) => JSON.parse(line) as { msg?: string; err?: Record<string, unknown> }).filter((line) => line.err !== undefined);
  return { logger: { ...loggerOptions('info', false), stream }, text: () => lines.join('\n'), errors };
}

/** A value no query would hold by chance, recognisable in any log line. */
const marker = () => `zqx${randomUUID().slice(0, 8)}`;

describe('the err serializer, on real database errors', () => {
  const log = capturingLogger();
  let ctx: TestContext;
  beforeAll(async () => {
    ctx = await createTestApp({}, { logger: log.logger });
  });
  afterAll(async () => ctx.app.close());

  async function logged(run: () => Promise<unknown>): Promise<Record<string, unknown>> {
    const error: unknown = await run().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(Error);
    ctx.app.log.error({ err: error }, 'probe');
    const line = log.errors().at(-1);
    return line?.err ?? {};
  }

  it('drops the parameters of a failed query and the value PostgreSQL quotes (invalid uuid)', async () => {
    const name = marker();
    const id = marker();
    const err = await logged(() => ctx.database.db.select().from(merchants).where(and(eq(merchants.name, name), eq(merchants.id, id))));
    expect(err).toMatchObject({ type: 'DrizzleQueryError', cause: { sqlState: '22P02', message: 'invalid input syntax for type uuid: "…"' } });
    expect(String(err.statement)).toContain('"merchants"');
    expect(log.text()).not.toContain(name);
    expect(log.text()).not.toContain(id);
  });

  it('drops the detail of a unique violation (Key (…)=(value) already exists)', async () => {
    const domain = `${marker()}.test`;
    const name = marker();
    await ctx.database.db.insert(partners).values({ id: randomUUID(), name, domain });
    const err = await logged(() => ctx.database.db.insert(partners).values({ id: randomUUID(), name, domain }));
    expect(err).toMatchObject({ cause: { sqlState: '23505', constraint: 'partners_domain_unique', table: 'partners' } });
    expect(log.text()).toContain('duplicate key value violates unique constraint \\"partners_domain_unique\\"');
    expect(log.text()).not.toContain(domain);
    expect(log.text()).not.toContain(name);
  });

  it('drops the failing row of a not-null violation', async () => {
    const domain = `${marker()}.test`;
    const err = await logged(() => ctx.database.db.insert(partners).values({ id: randomUUID(), name: null as unknown as string, domain }));
    expect(err).toMatchObject({ cause: { sqlState: '23502', column: 'name', table: 'partners' } });
    expect(log.text()).not.toContain(domain);
  });
});

describe('every path that logs an error', () => {
  it('the error handler, on a failed query (500): neither the parameters nor the failing row', async () => {
    const log = capturingLogger();
    const faulty = await createTestApp({}, { logger: log.logger, database: withFault(await testDatabase(), { kind: 'write-violates-check', table: marktags }) });
    try {
      const { token } = await createPartner(faulty.app);
      const merchantId = await createMerchant(faulty.app, token);
      const domain = `${marker()}.test`;
      const response = await faulty.app.inject({ method: 'POST', url: '/v1/partners/marktag/generate', headers: bearer(token), payload: { merchantId, domain } });
      expect(response.statusCode).toBe(500);
      const line = log.errors().find((entry) => entry.msg === 'unexpected error');
      expect(line?.err).toMatchObject({ type: 'DrizzleQueryError', cause: { sqlState: '23514', constraint: 'marktags_status_check' } });
      expect(log.text()).not.toContain(domain);
      expect(log.text()).not.toContain(merchantId);
    } finally {
      await faulty.app.close();
    }
  });

  it('the error handler, on an unreachable database (503): not the token hash it looked up', async () => {
    const log = capturingLogger();
    const database = openPostgres('postgres://marktag@127.0.0.1:1/none', { connectionTimeoutMillis: 500 });
    const down = await createTestApp({}, { logger: log.logger, database });
    try {
      const token = generateToken();
      const response = await down.app.inject({ method: 'GET', url: '/v1/partners/me', headers: bearer(token) });
      expect(response.statusCode).toBe(503);
      const line = log.errors().find((entry) => entry.msg === 'database unavailable');
      // The token look-up is a named statement: its error names the statement, never its parameter.
      expect(line?.err).toMatchObject({ type: 'StatementError', cause: { code: 'ECONNREFUSED' } });
      expect(log.text()).not.toContain(hashToken(token));
    } finally {
      await down.app.close();
      await database.close();
    }
  });

  it('the batch writer: not the value PostgreSQL quotes, nor the events’ data', async () => {
    const log = capturingLogger();
    const value = marker();
    const faulty = await createTestApp({}, { logger: log.logger, database: withFault(await testDatabase(), { kind: 'batch-write-invalid', value }) });
    try {
      const tag = await createLiveTag(faulty.app);
      const url = `https://${tag.domain}/${marker()}`;
      const response = await faulty.app.inject({
        method: 'POST',
        url: '/v1/collect',
        headers: { 'user-agent': UA, 'content-type': 'application/json' },
        payload: { tagId: tag.tagId, events: [{ type: 'page_view', url }] },
      });
      expect(response.statusCode).toBeGreaterThanOrEqual(500);
      const line = log.errors().find((entry) => entry.msg === 'event batch write failed; no event of it was acknowledged');
      expect(line?.err).toMatchObject({ type: 'StatementError', cause: { sqlState: '22P02' } });
      expect(log.text()).not.toContain(value);
      expect(log.text()).not.toContain(url);
    } finally {
      await faulty.app.close();
    }
  });

  it('the idempotency plugin, when it cannot record the response: neither the key nor the body', async () => {
    const log = capturingLogger();
    const faulty = await createTestApp(
      {},
      { logger: log.logger, database: withFault(await testDatabase(), { kind: 'update-sets', table: idempotencyKeys, values: { statusCode: marker() } }) },
    );
    try {
      const { token } = await createPartner(faulty.app);
      const key = marker();
      const name = marker();
      const response = await faulty.app.inject({
        method: 'POST',
        url: '/v1/partners/merchant',
        headers: { ...bearer(token), 'idempotency-key': key },
        payload: { name },
      });
      expect(response.statusCode).toBe(201);
      const line = log.errors().find((entry) => entry.msg === 'could not record the idempotent response');
      expect(line?.err).toMatchObject({ type: 'DrizzleQueryError', cause: { sqlState: '22P02' } });
      for (const value of [key, name, response.json<{ merchantId: string }>().merchantId]) expect(log.text()).not.toContain(value);
    } finally {
      await faulty.app.close();
    }
  });

  it('the background re-verification: not the tag’s hosts or ids', async () => {
    const log = capturingLogger();
    const faulty = await createTestApp(
      // No DNS server answers: every re-check is inconclusive, and recording it is what fails.
      { MARKTAG_REVERIFY_INTERVAL: '1s', MARKTAG_DNS_SERVERS: '127.0.0.1:9', MARKTAG_DNS_TIMEOUT_MS: '200' },
      { logger: log.logger, database: withFault(await testDatabase(), { kind: 'write-violates-check', table: marktags }) },
    );
    // The tag is made on a sound app: the fault refuses every write of marktags.
    const sound = await createTestApp();
    try {
      const { token } = await createPartner(sound.app);
      const merchantId = await createMerchant(sound.app, token);
      const domain = `${marker()}.test`;
      const generated = await sound.app.inject({ method: 'POST', url: '/v1/partners/marktag/generate', headers: bearer(token), payload: { merchantId, domain } });
      const tagId = generated.json<GenerateResponse>().tagId;
      const trackingHost = `mtag.${domain}`;
      await sound.database.db.execute(
        sql`update marktags set is_verified = true, is_connected = true, tracking_host = ${trackingHost}, hostname = ${domain}, last_checked_at = null where id = ${tagId}`,
      );
      faulty.app.services.reverifier.start();
      const started = Date.now();
      while (!log.errors().some((entry) => entry.msg === 're-verification failed; will try again')) {
        expect(Date.now() - started, 'no re-verification failure was logged').toBeLessThan(15_000);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const line = log.errors().find((entry) => entry.msg === 're-verification failed; will try again');
      expect(line?.err).toMatchObject({ type: 'DrizzleQueryError', cause: { sqlState: '23514', constraint: 'marktags_status_check' } });
      for (const value of [domain, tagId]) expect(log.text()).not.toContain(value);
    } finally {
      await faulty.app.services.reverifier.stop();
      await faulty.app.close();
      await sound.app.close();
    }
  }, 30_000);
});
