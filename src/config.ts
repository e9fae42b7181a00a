import { existsSync } from 'node:fs';
import path from 'node:path';
import { isIP } from 'node:net';
import { IPV4_FILE, IPV6_FILE } from './modules/geo/data-files.js';

/**
 * The only reader of process.env. Every setting is parsed and checked here, once, so a bad value
 * stops start-up with one line naming the variable instead of failing somewhere later.
 */

export type Role = 'all' | 'api' | 'collector';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface DnsServer {
  host: string;
  port: number;
}

export interface Config {
  port: number;
  host: string;
  /** The Admin API and /metrics listen here, apart from the tracking hosts (0: any free port). */
  adminPort: number;
  adminHost: string;
  databaseUrl: string | undefined;
  dataDir: string;
  adminToken: string | undefined;
  cnameTarget: string;
  recordName: string;
  dnsServers: DnsServer[];
  dnsTimeoutMs: number;
  publicUrl: string;
  logLevel: LogLevel;
  role: Role;
  bodyLimitBytes: number;
  /** Background re-verification of verified tags; null when switched off. */
  reverifyIntervalMs: number | null;
  /** Behind a reverse proxy: trust X-Forwarded-* (client protocol, for Secure cookies). */
  trustProxy: boolean;
  /** A folder of fresher country data (MARKTAG_COUNTRY_DATA_DIR); the npm package's when undefined. */
  countryDataDir: string | undefined;
  /** Shared rate-limit counters across processes; in memory when unset. */
  redisUrl: string | undefined;
  /** Partners API requests a minute per token (0: no limit). */
  apiRateLimit: number;
  /** Collector requests a minute per tag (0: no limit). */
  collectRateLimit: number;
  /** PostgreSQL's statement_timeout for request queries: longer statements are cancelled by the server (503). */
  statementTimeoutMs: number;
  /** Failed Partners API authentications (unknown tokens) a minute per client address (0: no limit). */
  authFailureLimit: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`${variable} ${reason}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const ROLES: readonly Role[] = ['all', 'api', 'collector'];

function read(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const value = Number(raw);
  if (value < min || value > max) {
    throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  }
  return value;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  const value = raw.toLowerCase();
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${raw}"`);
  }
  return value as T;
}

function hostname(env: Env, name: string, fallback: string): string {
  const raw = read(env, name) ?? fallback;
  // A fully-qualified name may end with a dot; it means the same host.
  const value = raw.replace(/\.$/, '').toLowerCase();
  if (!HOSTNAME.test(value)) throw new ConfigError(name, `must be a DNS hostname such as ${fallback}, got "${raw}"`);
  return value;
}

function databaseUrl(env: Env): string | undefined {
  const raw = read(env, 'DATABASE_URL');
  if (raw === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('DATABASE_URL', 'must be a URL such as postgres://user@host:5432/db');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError('DATABASE_URL', `must use postgres:// or postgresql://, got "${url.protocol}"`);
  }
  return raw;
}

function httpUrl(env: Env, name: string, fallback: string): string {
  const raw = read(env, name) ?? fallback;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `must be an absolute http(s) URL, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(name, `must be an absolute http(s) URL, got "${raw}"`);
  }
  return url.toString().replace(/\/$/, '');
}

function dnsServers(env: Env): DnsServer[] {
  const raw = read(env, 'MARKTAG_DNS_SERVERS');
  if (raw === undefined) return [];
  return raw.split(',').map((entry) => {
    const item = entry.trim();
    // "[::1]:53", "::1", "1.1.1.1", "1.1.1.1:53"
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(item);
    const v4 = /^([^:]+)(?::(\d+))?$/.exec(item);
    const [host, port] = bracketed
      ? [bracketed[1], bracketed[2]]
      : isIP(item) === 6
        ? [item, undefined]
        : v4
          ? [v4[1], v4[2]]
          : [undefined, undefined];
    const portNumber = port === undefined ? 53 : Number(port);
    if (host === undefined || isIP(host) === 0 || !Number.isInteger(portNumber) || portNumber < 1 || portNumber > 65535) {
      throw new ConfigError('MARKTAG_DNS_SERVERS', `must be a comma-separated list of ip[:port], got "${item}"`);
    }
    return { host, port: portNumber };
  });
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "6h", "30m", "90s", "500ms", "1d", a bare number of milliseconds, or "off". */
function duration(env: Env, name: string, fallbackMs: number, minMs: number): number | null {
  const raw = read(env, name);
  if (raw === undefined) return fallbackMs;
  if (/^(off|false|0)$/i.test(raw)) return null;
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/i.exec(raw);
  const value = match ? Number(match[1]) * (DURATION_UNITS[(match[2] ?? 'ms').toLowerCase()] ?? 1) : NaN;
  if (!Number.isFinite(value) || value < minMs) {
    throw new ConfigError(name, `must be a duration of at least ${minMs / 1000}s such as 6h, 30m or 90s (or off), got "${raw}"`);
  }
  return Math.round(value);
}

function redisUrl(env: Env): string | undefined {
  const raw = read(env, 'REDIS_URL');
  if (raw === undefined) return undefined;
  if (!/^rediss?:\/\//.test(raw)) throw new ConfigError('REDIS_URL', 'must be a URL such as redis://127.0.0.1:6379');
  return raw;
}

/** The admin listener's address: an IP address or a host name such as localhost. */
function listenHost(env: Env, name: string, fallback: string): string {
  const value = read(env, name) ?? fallback;
  if (isIP(value) === 0 && value !== 'localhost' && !HOSTNAME.test(value)) {
    throw new ConfigError(name, `must be an IP address or a host name such as 127.0.0.1, got "${value}"`);
  }
  return value;
}

export const DEFAULT_ADMIN_PORT = 3001;

/** 3001; when PORT is 0 (any free port, as in tests), any free port too, so two such servers never collide. */
function adminPort(env: Env, port: number): number {
  const value = integer(env, 'MARKTAG_ADMIN_PORT', port === 0 ? 0 : DEFAULT_ADMIN_PORT, 0, 65535);
  if (value !== 0 && value === port) throw new ConfigError('MARKTAG_ADMIN_PORT', `must differ from PORT (${port})`);
  return value;
}

function adminToken(env: Env): string | undefined {
  const value = read(env, 'MARKTAG_ADMIN_TOKEN');
  if (value !== undefined && value.length < 24) {
    throw new ConfigError('MARKTAG_ADMIN_TOKEN', 'must be at least 24 characters long');
  }
  return value;
}

/** A folder holding both country files, checked at start-up rather than when the first event arrives. */
function countryDataDir(env: Env): string | undefined {
  const value = read(env, 'MARKTAG_COUNTRY_DATA_DIR');
  if (value === undefined) return undefined;
  const folder = path.resolve(value);
  const missing = [IPV4_FILE, IPV6_FILE].filter((file) => !existsSync(path.join(folder, file)));
  if (missing.length > 0) throw new ConfigError('MARKTAG_COUNTRY_DATA_DIR', `must be a folder holding ${IPV4_FILE} and ${IPV6_FILE}; ${folder} lacks ${missing.join(' and ')}`);
  return folder;
}

export function loadConfig(env: Env = process.env): Config {
  const port = integer(env, 'PORT', 3000, 0, 65535);
  const recordName = read(env, 'MARKTAG_RECORD_NAME') ?? 'mtag';
  if (!DNS_LABEL.test(recordName)) {
    throw new ConfigError('MARKTAG_RECORD_NAME', `must be a single DNS label such as mtag, got "${recordName}"`);
  }
  return {
    port,
    host: read(env, 'HOST') ?? '0.0.0.0',
    adminPort: adminPort(env, port),
    adminHost: listenHost(env, 'MARKTAG_ADMIN_HOST', '127.0.0.1'),
    databaseUrl: databaseUrl(env),
    dataDir: path.resolve(read(env, 'MARKTAG_DATA_DIR') ?? '.marktag'),
    adminToken: adminToken(env),
    cnameTarget: hostname(env, 'MARKTAG_CNAME_TARGET', 'mtag.markopolo.ai'),
    recordName: recordName.toLowerCase(),
    dnsServers: dnsServers(env),
    dnsTimeoutMs: integer(env, 'MARKTAG_DNS_TIMEOUT_MS', 5000, 100, 60000),
    publicUrl: httpUrl(env, 'MARKTAG_PUBLIC_URL', `http://localhost:${port}`),
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVELS, 'info'),
    role: oneOf(env, 'MARKTAG_ROLE', ROLES, 'all'),
    bodyLimitBytes: integer(env, 'MARKTAG_BODY_LIMIT_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    reverifyIntervalMs: duration(env, 'MARKTAG_REVERIFY_INTERVAL', 6 * 3_600_000, 1000),
    trustProxy: oneOf(env, 'MARKTAG_TRUST_PROXY', ['true', 'false'] as const, 'false') === 'true',
    countryDataDir: countryDataDir(env),
    redisUrl: redisUrl(env),
    apiRateLimit: integer(env, 'MARKTAG_API_RATE_LIMIT', 6000, 0, 10_000_000),
    collectRateLimit: integer(env, 'MARKTAG_COLLECT_RATE_LIMIT', 120_000, 0, 100_000_000),
    statementTimeoutMs: integer(env, 'MARKTAG_STATEMENT_TIMEOUT_MS', 3000, 100, 600_000),
    authFailureLimit: integer(env, 'MARKTAG_AUTH_FAILURE_LIMIT', 20, 0, 1_000_000),
  };
}

export interface CliConfig {
  serverUrl: string;
  adminToken: string | undefined;
  dataDir: string;
}

/** What the `marktag` admin commands need: where the server's admin listener is and how to prove we are its operator. */
export function loadCliConfig(env: Env = process.env): CliConfig {
  const port = integer(env, 'MARKTAG_ADMIN_PORT', DEFAULT_ADMIN_PORT, 1, 65535);
  return {
    serverUrl: httpUrl(env, 'MARKTAG_URL', `http://127.0.0.1:${port}`),
    adminToken: read(env, 'MARKTAG_ADMIN_TOKEN'),
    dataDir: path.resolve(read(env, 'MARKTAG_DATA_DIR') ?? '.marktag'),
  };
}

/** Whether stdout is a terminal: decides human-friendly or JSON log lines (not NODE_ENV). */
export function isInteractive(): boolean {
  return process.stdout.isTTY === true;
}
