import { parseArgs } from 'node:util';
import { ConfigError, isInteractive, loadCliConfig, loadConfig } from '../config.js';
import { describeDatabase, openMigratedDatabase } from '../db/open.js';
import type { CreatePartnerResponse, CreateTokenResponse, PartnerList, TokenList } from '../modules/admin/schemas.js';
import { closeOnSignals, startServer } from '../server.js';
import { VERSION } from '../version.js';
import { AdminClient, CliError } from './admin-client.js';
import { json, keyValues, table } from './output.js';

const USAGE = `marktag ${VERSION}: the MarkTag Partners API server and its admin commands

Usage:
  marktag serve                                   run the server (PORT, DATABASE_URL, …)
  marktag migrate                                 apply database migrations, then exit
  marktag partner create --name N [--domain D]    onboard a partner; prints its first API token
  marktag partner list [--page P] [--limit L]     list partners
  marktag token create --partner ID [--name N]    issue another token for a partner
  marktag token list --partner ID                 list a partner's tokens (no secrets)
  marktag token revoke TOKEN_ID                   revoke a token; it fails from the next request on

Options:
  --json       print the server's JSON answer (admin commands)
  -h, --help   help for any command
  --version    print the version

The admin commands call the server's admin listener at MARKTAG_URL (default
http://127.0.0.1:$MARKTAG_ADMIN_PORT, port 3001) with the admin token from MARKTAG_ADMIN_TOKEN or,
when unset, the file admin-token in MARKTAG_DATA_DIR (.marktag).`;

const HELP: Record<string, string> = {
  serve: `Usage: marktag serve

Runs the server. Configuration comes from the environment (see the README): PORT (3000), HOST,
MARKTAG_ADMIN_PORT (3001: Admin API and /metrics) and MARKTAG_ADMIN_HOST (127.0.0.1), DATABASE_URL
(PostgreSQL; embedded PGlite in MARKTAG_DATA_DIR when unset), MARKTAG_ADMIN_TOKEN, LOG_LEVEL, …
SIGTERM or SIGINT stops it gracefully.`,
  migrate: `Usage: marktag migrate

Applies the committed SQL migrations to DATABASE_URL (or the embedded database in MARKTAG_DATA_DIR)
and exits. The server also applies them at start-up; this is for deploy pipelines.`,
  partner: `Usage:
  marktag partner create --name NAME [--domain DOMAIN] [--json]
  marktag partner list [--page N] [--limit N] [--json]

create  Onboards a partner and prints its first mp_live_ token (shown once). With --domain, also
        prints the CNAME record the partner adds on that domain for preverified tags.
list    Lists partners, newest first.`,
  token: `Usage:
  marktag token create --partner PARTNER_ID [--name NAME] [--json]
  marktag token list --partner PARTNER_ID [--json]
  marktag token revoke TOKEN_ID [--json]

create  Issues another token for the partner (for rotation); shown once.
list    Lists the partner's tokens without their secrets.
revoke  Revokes a token: it fails from the very next request on.`,
};

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  json: { type: 'boolean' },
  name: { type: 'string' },
  domain: { type: 'string' },
  partner: { type: 'string' },
  page: { type: 'string' },
  limit: { type: 'string' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

function usageError(message: string, command?: string): CliError {
  return new CliError(`${message}\nRun "marktag ${command ? `${command} ` : ''}--help" for usage.`, 2);
}

function required(values: Values, option: 'name' | 'partner', command: string): string {
  const value = values[option];
  if (value === undefined || value.trim() === '') throw usageError(`--${option} is required`, command);
  return value;
}

function positiveInteger(raw: string | undefined, option: string, command: string): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw usageError(`--${option} must be a whole number of at least 1`, command);
  return Number(raw);
}

async function partnerCommand(action: string | undefined, values: Values): Promise<string> {
  const client = () => AdminClient.fromConfig(loadCliConfig());
  if (action === 'create') {
    const body = { name: required(values, 'name', 'partner'), ...(values.domain ? { domain: values.domain } : {}) };
    const created = await client()
      .request<CreatePartnerResponse>('POST', '/v1/admin/partners', body)
      .catch((error: unknown) => {
        if (error instanceof CliError && error.code === 'DOMAIN_TAKEN') {
          throw new CliError(`${error.message}\nA partner domain belongs to one partner: onboard this partner with a domain of its own, or without --domain.`);
        }
        throw error;
      });
    if (values.json) return json(created);
    const rows: [string, string][] = [
      ['partnerId', created.partnerId],
      ['name', created.name],
      ['domain', created.domain ?? '(none)'],
      ['tokenId', created.tokenId],
      ['token', created.token],
    ];
    const record = created.record
      ? `\n\nAdd this DNS record on ${created.domain} to enable preverified tags:\n${keyValues([
          ['type', created.record.type],
          ['name', created.record.name],
          ['value', created.record.value],
          ['ttl', String(created.record.ttl)],
        ])}`
      : '';
    return `Partner created.\n${keyValues(rows)}\n\nThe token is shown once: give it to the partner now.${record}`;
  }
  if (action === 'list') {
    const page = positiveInteger(values.page, 'page', 'partner') ?? 1;
    const limit = positiveInteger(values.limit, 'limit', 'partner') ?? 10;
    const list = await client().request<PartnerList>('GET', `/v1/admin/partners?page=${page}&limit=${limit}`);
    if (values.json) return json(list);
    const { pagination: p } = list;
    return `${table(
      ['PARTNER ID', 'NAME', 'DOMAIN', 'CREATED'],
      list.partners.map((partner) => [partner.partnerId, partner.name, partner.domain ?? '-', partner.createdAt]),
    )}\n\nPage ${p.currentPage} of ${Math.max(p.totalPages, 1)} (${p.totalItems} partners)`;
  }
  throw usageError(action ? `Unknown partner command "${action}"` : 'Missing partner command (create or list)', 'partner');
}

async function tokenCommand(action: string | undefined, values: Values, rest: string[]): Promise<string> {
  const client = () => AdminClient.fromConfig(loadCliConfig());
  if (action === 'create') {
    const partnerId = encodeURIComponent(required(values, 'partner', 'token'));
    const body = values.name ? { name: values.name } : {};
    const issued = await client().request<CreateTokenResponse>('POST', `/v1/admin/partners/${partnerId}/tokens`, body);
    if (values.json) return json(issued);
    return `Token issued.\n${keyValues([
      ['tokenId', issued.tokenId],
      ['token', issued.token],
    ])}\n\nThe token is shown once: give it to the partner now.`;
  }
  if (action === 'list') {
    const partnerId = encodeURIComponent(required(values, 'partner', 'token'));
    const list = await client().request<TokenList>('GET', `/v1/admin/partners/${partnerId}/tokens`);
    if (values.json) return json(list);
    return table(
      ['TOKEN ID', 'PREFIX', 'NAME', 'CREATED', 'LAST USED', 'STATUS'],
      list.tokens.map((token) => [
        token.tokenId,
        `${token.prefix}…`,
        token.name ?? '-',
        token.createdAt,
        token.lastUsedAt ?? 'never',
        token.revokedAt ? `revoked ${token.revokedAt}` : 'active',
      ]),
    );
  }
  if (action === 'revoke') {
    const tokenId = rest[0];
    if (tokenId === undefined) throw usageError('TOKEN_ID is required', 'token');
    await client().request<undefined>('DELETE', `/v1/admin/tokens/${encodeURIComponent(tokenId)}`);
    return values.json ? json({ tokenId, revoked: true }) : `Token ${tokenId} revoked.`;
  }
  throw usageError(action ? `Unknown token command "${action}"` : 'Missing token command (create, list or revoke)', 'token');
}

async function serve(): Promise<void> {
  const server = await startServer(loadConfig(), { pretty: isInteractive() });
  closeOnSignals(server);
}

async function runMigrations(): Promise<string> {
  const config = loadConfig();
  const database = await openMigratedDatabase(config);
  await database.close();
  return `Migrations applied to ${describeDatabase(config)}.`;
}

/** Runs one command; returns what to print. Throws CliError (or ConfigError) on failure. */
export async function run(argv: string[]): Promise<string | undefined> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw usageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, action, ...rest] = positionals;
  if (values.version) return VERSION;
  if (values.help || command === 'help') {
    const topic = command === 'help' ? action : command;
    return topic !== undefined && HELP[topic] ? HELP[topic] : USAGE;
  }
  switch (command) {
    case 'serve':
      await serve();
      return undefined;
    case 'migrate':
      return runMigrations();
    case 'partner':
      return partnerCommand(action, values);
    case 'token':
      return tokenCommand(action, values, rest);
    case undefined:
      return USAGE;
    default:
      throw usageError(`Unknown command "${command}"`);
  }
}

export async function main(argv: string[]): Promise<void> {
  try {
    const output = await run(argv);
    if (output !== undefined) process.stdout.write(`${output}\n`);
  } catch (error) {
    if (error instanceof CliError) {
      process.stderr.write(`marktag: ${error.message}\n`);
      process.exitCode = error.exitCode;
    } else if (error instanceof ConfigError) {
      process.stderr.write(`marktag: invalid configuration: ${error.message}\n`);
      process.exitCode = 2;
    } else {
      const message = error instanceof Error ? error.message : String(error);
      process.stderr.write(`marktag: ${message.split('\n')[0]}\n`);
      process.exitCode = 1;
    }
  }
}
