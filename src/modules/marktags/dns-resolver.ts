import { Resolver } from 'node:dns/promises';
import type { DnsServer } from '../../config.js';

/** What a DNS question got: records, a name that does not exist, or a name without that record type. */
export type DnsAnswer = { kind: 'records'; values: string[] } | { kind: 'nxdomain' } | { kind: 'nodata' };

/** The resolver could not give a definite answer (timeout, SERVFAIL, refusal, no server reachable). */
export class DnsUnavailableError extends Error {
  constructor(
    readonly host: string,
    readonly reason: string,
  ) {
    super(`DNS lookup of ${host} failed: ${reason}`);
    this.name = 'DnsUnavailableError';
  }
}

/** One verification's worth of DNS questions; `close` abandons whatever is still in flight. */
export interface DnsSession {
  cname(host: string): Promise<DnsAnswer>;
  txt(host: string): Promise<DnsAnswer>;
  close(): void;
}

/** The outside DNS service, as buildApp receives it: real in production and in tests (against a loopback server). */
export interface DnsResolver {
  session(deadlineMs: number): DnsSession;
}

const DEFINITE: Record<string, 'nxdomain' | 'nodata'> = { ENOTFOUND: 'nxdomain', ENODATA: 'nodata' };

const REASONS: Record<string, string> = {
  ETIMEOUT: 'the DNS server did not answer in time',
  ESERVFAIL: 'the DNS server answered SERVFAIL',
  EREFUSED: 'the DNS server refused the query',
  ECONNREFUSED: 'no DNS server could be reached',
  ECANCELLED: 'the lookup was cancelled',
};

async function ask(host: string, query: () => Promise<string[]>): Promise<DnsAnswer> {
  try {
    const values = await query();
    return values.length === 0 ? { kind: 'nodata' } : { kind: 'records', values };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EUNKNOWN';
    const definite = DEFINITE[code];
    if (definite) return { kind: definite };
    throw new DnsUnavailableError(host, REASONS[code] ?? `resolver error ${code}`);
  }
}

/**
 * node:dns (c-ares) with the configured servers. Each attempt gets a third of the deadline and a
 * question is tried twice, so one slow server cannot hold a verification past its deadline.
 */
export function systemDnsResolver(servers: DnsServer[]): DnsResolver {
  return {
    session(deadlineMs) {
      const resolver = new Resolver({ timeout: Math.max(50, Math.floor(deadlineMs / 3)), tries: 2 });
      if (servers.length > 0) {
        resolver.setServers(servers.map(({ host, port }) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`)));
      }
      return {
        cname: (host) => ask(host, () => resolver.resolveCname(host)),
        txt: (host) => ask(host, async () => (await resolver.resolveTxt(host)).map((chunks) => chunks.join(''))),
        close: () => resolver.cancel(),
      };
    },
  };
}
