import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliError } from '../src/cli/admin-client.js';
import { run } from '../src/cli/main.js';
import type { CreatePartnerResponse, PartnerList, TokenList } from '../src/modules/admin/schemas.js';
import { ADMIN_TOKEN, bearer, createTestApp, type TestContext } from './helpers/app.js';
import { freePort } from './helpers/process.js';

let ctx: TestContext;
let url: string;
const saved = { ...process.env };

beforeAll(async () => {
  ctx = await createTestApp();
  url = await ctx.admin.listen({ port: 0, host: '127.0.0.1' });
  process.env.MARKTAG_URL = url;
  process.env.MARKTAG_ADMIN_TOKEN = ADMIN_TOKEN;
});
afterAll(async () => {
  process.env = saved;
  await ctx.app.close();
});

async function failure(argv: string[]): Promise<CliError> {
  try {
    await run(argv);
  } catch (error) {
    if (error instanceof CliError) return error;
    throw error;
  }
  throw new Error(`marktag ${argv.join(' ')} did not fail`);
}

describe('marktag partner', () => {
  it('creates a partner and prints its token and CNAME record', async () => {
    const output = await run(['partner', 'create', '--name', 'CLI Partner', '--domain', 'cli-partner.com']);
    expect(output).toContain('Partner created.');
    expect(output).toMatch(/token\s+mp_live_[0-9A-Za-z]{36}/);
    expect(output).toContain('mtag.markopolo.ai');
    const token = /mp_live_[0-9A-Za-z]{36}/.exec(output ?? '')?.[0] ?? '';
    const me = await ctx.app.inject({ method: 'GET', url: '/v1/partners/me', headers: bearer(token) });
    expect(me.json()).toMatchObject({ name: 'CLI Partner', domain: 'cli-partner.com' });
  });

  it('prints JSON with --json and lists partners', async () => {
    const created = JSON.parse((await run(['partner', 'create', '--name', 'JSON Partner', '--json'])) ?? '') as CreatePartnerResponse;
    expect(created).toMatchObject({ name: 'JSON Partner', domain: null, record: null });
    const listed = JSON.parse((await run(['partner', 'list', '--limit', '100', '--json'])) ?? '') as PartnerList;
    expect(listed.partners.map((p) => p.partnerId)).toContain(created.partnerId);
    const table = await run(['partner', 'list']);
    expect(table).toMatch(/^PARTNER ID\s+NAME\s+DOMAIN\s+CREATED/);
    expect(table).toMatch(/Page 1 of \d+ \(\d+ partners\)/);
  });

  it('reports validation errors from the server', async () => {
    const error = await failure(['partner', 'create', '--name', 'X', '--domain', 'https://bad.com']);
    expect(error.exitCode).toBe(1);
    expect(error.message).toBe('VALIDATION_ERROR: domain must be a valid domain without protocol or www prefix');
  });

  it('says a domain belongs to one partner when another partner holds it (409 DOMAIN_TAKEN)', async () => {
    await run(['partner', 'create', '--name', 'First', '--domain', 'taken-by-first.com']);
    const error = await failure(['partner', 'create', '--name', 'Second', '--domain', 'Shop.Taken-By-First.com']);
    expect(error.exitCode).toBe(1);
    expect(error.message).toBe(
      'DOMAIN_TAKEN: The domain shop.taken-by-first.com lies under taken-by-first.com, the domain of another partner\n' +
        'A partner domain belongs to one partner: onboard this partner with a domain of its own, or without --domain.',
    );
  });
});

describe('marktag token', () => {
  it('creates, lists and revokes tokens', async () => {
    const partner = JSON.parse((await run(['partner', 'create', '--name', 'Token Partner', '--json'])) ?? '') as CreatePartnerResponse;
    const issued = JSON.parse((await run(['token', 'create', '--partner', partner.partnerId, '--name', 'ci', '--json'])) ?? '') as {
      tokenId: string;
      token: string;
    };
    expect(issued.token).toMatch(/^mp_live_/);

    const list = JSON.parse((await run(['token', 'list', '--partner', partner.partnerId, '--json'])) ?? '') as TokenList;
    expect(list.tokens.map((t) => t.tokenId)).toEqual([partner.tokenId, issued.tokenId]);
    const table = await run(['token', 'list', '--partner', partner.partnerId]);
    expect(table).toContain(`${issued.token.slice(0, 12)}…`);
    expect(table).not.toContain(issued.token);

    expect(await run(['token', 'revoke', issued.tokenId])).toBe(`Token ${issued.tokenId} revoked.`);
    const me = await ctx.app.inject({ method: 'GET', url: '/v1/partners/me', headers: bearer(issued.token) });
    expect(me.statusCode).toBe(401);

    const unknown = await failure(['token', 'revoke', '00000000-0000-4000-8000-000000000000']);
    expect(unknown.message).toBe('TOKEN_NOT_FOUND: Token not found');
  });
});

describe('usage', () => {
  it('prints help for every command', async () => {
    expect(await run(['--help'])).toContain('Usage:');
    expect(await run([])).toContain('marktag partner create');
    for (const command of ['serve', 'migrate', 'partner', 'token']) {
      expect(await run([command, '--help'])).toMatch(/^Usage:/);
      expect(await run(['help', command])).toMatch(/^Usage:/);
    }
    expect(await run(['--version'])).toMatch(/^\d+\.\d+\.\d+/);
  });

  it.each([
    [['frobnicate'], 'Unknown command "frobnicate"'],
    [['partner'], 'Missing partner command (create or list)'],
    [['partner', 'delete'], 'Unknown partner command "delete"'],
    [['partner', 'create'], '--name is required'],
    [['partner', 'list', '--page', '0'], '--page must be a whole number of at least 1'],
    [['token', 'create'], '--partner is required'],
    [['token', 'revoke'], 'TOKEN_ID is required'],
    [['partner', 'create', '--nmae', 'x'], "Unknown option '--nmae'"],
  ])('marktag %j is a usage error (exit 2)', async (argv, message) => {
    const error = await failure(argv);
    expect(error.exitCode).toBe(2);
    expect(error.message).toContain(message);
    expect(error.message).toContain('--help');
  });
});

describe('failures talking to the server', () => {
  it('says clearly when the server is unreachable', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    process.env.MARKTAG_URL = closed;
    try {
      const error = await failure(['partner', 'list']);
      expect(error.exitCode).toBe(1);
      expect(error.message).toBe(
        `Cannot reach the MarkTag server at ${closed} (ECONNREFUSED). Is it running? Set MARKTAG_URL to its address.`,
      );
    } finally {
      process.env.MARKTAG_URL = url;
    }
  });

  it('says clearly when the admin token is wrong', async () => {
    process.env.MARKTAG_ADMIN_TOKEN = 'mt_admin_wrong_wrong_wrong_wrong';
    try {
      const error = await failure(['partner', 'list']);
      expect(error.exitCode).toBe(1);
      expect(error.message).toContain('refused the admin token (AUTHENTICATION_ERROR: Invalid admin token)');
    } finally {
      process.env.MARKTAG_ADMIN_TOKEN = ADMIN_TOKEN;
    }
  });

  it('says where to find the admin token when there is none', async () => {
    delete process.env.MARKTAG_ADMIN_TOKEN;
    process.env.MARKTAG_DATA_DIR = '/nonexistent/marktag';
    try {
      const error = await failure(['partner', 'list']);
      expect(error.message).toContain('No admin token: set MARKTAG_ADMIN_TOKEN');
      expect(error.message).toContain('/nonexistent/marktag');
    } finally {
      process.env.MARKTAG_ADMIN_TOKEN = ADMIN_TOKEN;
      delete process.env.MARKTAG_DATA_DIR;
    }
  });
});
