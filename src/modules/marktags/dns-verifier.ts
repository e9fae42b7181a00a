import { DnsUnavailableError, type DnsAnswer, type DnsResolver, type DnsSession } from './dns-resolver.js';

export const MAX_CNAME_HOPS = 8;

export type HostOutcome = 'match' | 'nxdomain' | 'no_cname' | 'elsewhere' | 'loop' | 'too_long';

/** What one candidate host resolved to, for the merchant to read when verification fails. */
export interface HostCheck {
  host: string;
  outcome: HostOutcome;
  /** The CNAME chain followed from `host`, in order. */
  chain: string[];
}

export type TxtOutcome = 'found' | 'missing';

export interface VerificationResult {
  /** The first candidate (in the documented order) whose chain reaches the target, if any. */
  matched: HostCheck | undefined;
  checks: HostCheck[];
  /** Only when an ownership record was asked for. */
  txt?: { host: string; outcome: TxtOutcome; found: string[] };
}

export interface VerificationRequest {
  candidates: string[];
  target: string;
  ownership?: { host: string; value: string };
}

/** DNS names compare case-insensitively and without the root's trailing dot. */
export function normalizeHost(name: string): string {
  return name.trim().replace(/\.$/, '').toLowerCase();
}

async function followCname(dns: DnsSession, host: string, target: string): Promise<HostCheck> {
  const chain: string[] = [];
  const seen = new Set([host]);
  let current = host;
  for (let hop = 0; hop < MAX_CNAME_HOPS; hop++) {
    const answer: DnsAnswer = await dns.cname(current);
    if (answer.kind !== 'records') {
      if (hop > 0) return { host, outcome: 'elsewhere', chain };
      return { host, outcome: answer.kind === 'nxdomain' ? 'nxdomain' : 'no_cname', chain };
    }
    const next = normalizeHost(answer.values[0] ?? '');
    chain.push(next);
    if (next === target) return { host, outcome: 'match', chain };
    if (seen.has(next)) return { host, outcome: 'loop', chain };
    seen.add(next);
    current = next;
  }
  return { host, outcome: 'too_long', chain };
}

async function findTxt(dns: DnsSession, host: string, value: string): Promise<VerificationResult['txt']> {
  const answer = await dns.txt(host);
  const found = answer.kind === 'records' ? answer.values : [];
  return { host, outcome: found.some((text) => text.trim() === value) ? 'found' : 'missing', found };
}

/**
 * Checks every candidate at once, within one deadline. A definite answer for any candidate that
 * matches wins; otherwise an outage on any lookup makes the whole check inconclusive (thrown as
 * DnsUnavailableError), because the missing answer might have been the match.
 */
export async function verifyDns(resolver: DnsResolver, request: VerificationRequest, deadlineMs: number): Promise<VerificationResult> {
  const dns = resolver.session(deadlineMs);
  const target = normalizeHost(request.target);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DnsUnavailableError(request.candidates[0] ?? target, 'DNS did not answer in time')), deadlineMs);
  });
  try {
    const lookups = request.candidates.map((host) => followCname(dns, normalizeHost(host), target));
    const ownership = request.ownership;
    const txtLookup = ownership ? findTxt(dns, ownership.host, ownership.value) : Promise.resolve(undefined);
    const settled = await Promise.race([Promise.allSettled([...lookups, txtLookup]), deadline]);

    const checks = settled.slice(0, lookups.length).flatMap((outcome) => (outcome.status === 'fulfilled' && outcome.value ? [outcome.value as HostCheck] : []));
    const matched = checks.find((check) => check.outcome === 'match');
    const failure = settled.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    const txtOutcome = settled[lookups.length];
    if (failure && (!matched || (ownership && txtOutcome?.status === 'rejected'))) {
      throw failure.reason instanceof DnsUnavailableError ? failure.reason : new DnsUnavailableError(target, String(failure.reason));
    }
    const txt = txtOutcome?.status === 'fulfilled' ? (txtOutcome.value as VerificationResult['txt']) : undefined;
    return { matched, checks, ...(txt ? { txt } : {}) };
  } finally {
    clearTimeout(timer);
    dns.close();
  }
}

/** One line a merchant can act on, per host checked. */
export function describeCheck(check: HostCheck, target: string): string {
  const path = [check.host, ...check.chain].join(' → ');
  switch (check.outcome) {
    case 'match':
      return `${path}: points to ${target}`;
    case 'nxdomain':
      return `${check.host}: no DNS record (the name does not exist)`;
    case 'no_cname':
      return `${check.host}: has no CNAME record`;
    case 'elsewhere':
      return `${path}: points to ${check.chain.at(-1) ?? '?'}, not to ${target}`;
    case 'loop':
      return `${path}: the CNAME chain loops`;
    case 'too_long':
      return `${path}: the CNAME chain is longer than ${MAX_CNAME_HOPS} hops`;
  }
}
