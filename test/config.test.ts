import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadCliConfig, loadConfig } from '../src/config.js';

describe('loadConfig', () => {
  it('has working defaults for a fresh machine', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 3000,
      host: '0.0.0.0',
      adminPort: 3001,
      adminHost: '127.0.0.1',
      databaseUrl: undefined,
      dataDir: path.resolve('.marktag'),
      adminToken: undefined,
      cnameTarget: 'mtag.markopolo.ai',
      recordName: 'mtag',
      dnsServers: [],
      dnsTimeoutMs: 5000,
      publicUrl: 'http://localhost:3000',
      logLevel: 'info',
      role: 'all',
    });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '127.0.0.1',
      MARKTAG_ADMIN_PORT: '9090',
      MARKTAG_ADMIN_HOST: '10.0.0.5',
      DATABASE_URL: 'postgres://u:p@db:5432/marktag',
      MARKTAG_DATA_DIR: '/var/lib/marktag',
      MARKTAG_ADMIN_TOKEN: 'a'.repeat(32),
      MARKTAG_CNAME_TARGET: 'Tags.Example.NET.',
      MARKTAG_RECORD_NAME: 'track',
      MARKTAG_DNS_SERVERS: '1.1.1.1, 127.0.0.1:5353,[::1]:53,::1',
      MARKTAG_DNS_TIMEOUT_MS: '1500',
      MARKTAG_PUBLIC_URL: 'https://tags.example.net/',
      LOG_LEVEL: 'DEBUG',
      MARKTAG_ROLE: 'api',
    });
    expect(config).toMatchObject({
      port: 8080,
      host: '127.0.0.1',
      adminPort: 9090,
      adminHost: '10.0.0.5',
      databaseUrl: 'postgres://u:p@db:5432/marktag',
      dataDir: '/var/lib/marktag',
      cnameTarget: 'tags.example.net',
      recordName: 'track',
      dnsServers: [
        { host: '1.1.1.1', port: 53 },
        { host: '127.0.0.1', port: 5353 },
        { host: '::1', port: 53 },
        { host: '::1', port: 53 },
      ],
      dnsTimeoutMs: 1500,
      publicUrl: 'https://tags.example.net',
      logLevel: 'debug',
      role: 'api',
    });
  });

  it('reads the statement timeout and the failed-authentication bound, with their defaults', () => {
    expect(loadConfig({})).toMatchObject({ statementTimeoutMs: 3000, authFailureLimit: 20 });
    expect(loadConfig({ MARKTAG_STATEMENT_TIMEOUT_MS: '15000', MARKTAG_AUTH_FAILURE_LIMIT: '0' })).toMatchObject({
      statementTimeoutMs: 15000,
      authFailureLimit: 0,
    });
    expect(() => loadConfig({ MARKTAG_STATEMENT_TIMEOUT_MS: '50' })).toThrow('MARKTAG_STATEMENT_TIMEOUT_MS must be between 100 and 600000, got 50');
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT must be a whole number, got "abc"'],
    [{ PORT: '70000' }, 'PORT must be between 0 and 65535, got 70000'],
    [{ DATABASE_URL: 'mysql://x@y/z' }, 'DATABASE_URL must use postgres:// or postgresql://, got "mysql:"'],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL must be a URL such as postgres://user@host:5432/db'],
    [{ MARKTAG_ADMIN_TOKEN: 'short' }, 'MARKTAG_ADMIN_TOKEN must be at least 24 characters long'],
    [{ MARKTAG_CNAME_TARGET: 'not a host' }, 'MARKTAG_CNAME_TARGET must be a DNS hostname such as mtag.markopolo.ai, got "not a host"'],
    [{ MARKTAG_RECORD_NAME: 'a.b' }, 'MARKTAG_RECORD_NAME must be a single DNS label such as mtag, got "a.b"'],
    [{ MARKTAG_DNS_SERVERS: '1.1.1.1,dns.google' }, 'MARKTAG_DNS_SERVERS must be a comma-separated list of ip[:port], got "dns.google"'],
    [{ MARKTAG_DNS_SERVERS: '1.1.1.1:99999' }, 'MARKTAG_DNS_SERVERS must be a comma-separated list of ip[:port], got "1.1.1.1:99999"'],
    [{ MARKTAG_DNS_TIMEOUT_MS: '10' }, 'MARKTAG_DNS_TIMEOUT_MS must be between 100 and 60000, got 10'],
    [{ MARKTAG_PUBLIC_URL: 'ftp://x' }, 'MARKTAG_PUBLIC_URL must be an absolute http(s) URL, got "ftp://x"'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"'],
    [{ MARKTAG_ROLE: 'worker' }, 'MARKTAG_ROLE must be one of all, api, collector, got "worker"'],
  ])('refuses %j with one line naming the variable', (env, message) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toBe(message);
    expect((error as ConfigError).message).not.toContain('\n');
    expect((error as ConfigError).variable).toBe(Object.keys(env)[0]);
  });

  it('reads a country data folder only when it holds both files', () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'marktag-country-'));
    try {
      expect(loadConfig({}).countryDataDir).toBeUndefined();
      writeFileSync(path.join(folder, 'geo-whois-asn-country-ipv4-num.csv'), '');
      expect(() => loadConfig({ MARKTAG_COUNTRY_DATA_DIR: folder })).toThrow(
        `MARKTAG_COUNTRY_DATA_DIR must be a folder holding geo-whois-asn-country-ipv4-num.csv and geo-whois-asn-country-ipv6-num.csv; ${folder} lacks geo-whois-asn-country-ipv6-num.csv`,
      );
      writeFileSync(path.join(folder, 'geo-whois-asn-country-ipv6-num.csv'), '');
      expect(loadConfig({ MARKTAG_COUNTRY_DATA_DIR: folder }).countryDataDir).toBe(folder);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('reads the re-verification interval as a duration, or off', () => {
    expect(loadConfig({}).reverifyIntervalMs).toBe(6 * 3_600_000);
    expect(loadConfig({ MARKTAG_REVERIFY_INTERVAL: '30m' }).reverifyIntervalMs).toBe(1_800_000);
    expect(loadConfig({ MARKTAG_REVERIFY_INTERVAL: '90s' }).reverifyIntervalMs).toBe(90_000);
    expect(loadConfig({ MARKTAG_REVERIFY_INTERVAL: '1.5h' }).reverifyIntervalMs).toBe(5_400_000);
    expect(loadConfig({ MARKTAG_REVERIFY_INTERVAL: '5000' }).reverifyIntervalMs).toBe(5000);
    expect(loadConfig({ MARKTAG_REVERIFY_INTERVAL: 'off' }).reverifyIntervalMs).toBeNull();
    expect(() => loadConfig({ MARKTAG_REVERIFY_INTERVAL: 'hourly' })).toThrow(
      'MARKTAG_REVERIFY_INTERVAL must be a duration of at least 1s such as 6h, 30m or 90s (or off), got "hourly"',
    );
  });

  it('puts the admin listener on loopback port 3001, on any free port when PORT is 0, never on PORT itself', () => {
    expect(loadConfig({ PORT: '0' })).toMatchObject({ port: 0, adminPort: 0 });
    expect(loadConfig({ PORT: '0', MARKTAG_ADMIN_PORT: '7001' })).toMatchObject({ adminPort: 7001 });
    expect(loadConfig({ MARKTAG_ADMIN_HOST: 'localhost' }).adminHost).toBe('localhost');
    expect(() => loadConfig({ PORT: '3001' })).toThrow('MARKTAG_ADMIN_PORT must differ from PORT (3001)');
    expect(() => loadConfig({ MARKTAG_ADMIN_PORT: 'x' })).toThrow('MARKTAG_ADMIN_PORT must be a whole number, got "x"');
    expect(() => loadConfig({ MARKTAG_ADMIN_HOST: 'not a host!' })).toThrow(
      'MARKTAG_ADMIN_HOST must be an IP address or a host name such as 127.0.0.1, got "not a host!"',
    );
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ PORT: '', DATABASE_URL: '  ' })).toMatchObject({ port: 3000, databaseUrl: undefined });
  });
});

describe('loadCliConfig', () => {
  it('points at the local server by default', () => {
    expect(loadCliConfig({})).toMatchObject({ serverUrl: 'http://127.0.0.1:3001', adminToken: undefined });
    // The admin commands talk to the admin listener, not the public port.
    expect(loadCliConfig({ PORT: '4000' }).serverUrl).toBe('http://127.0.0.1:3001');
    expect(loadCliConfig({ MARKTAG_ADMIN_PORT: '4001' }).serverUrl).toBe('http://127.0.0.1:4001');
    expect(loadCliConfig({ MARKTAG_URL: 'https://marktag.internal/' }).serverUrl).toBe('https://marktag.internal');
  });
});
