import { getDomain } from 'tldts';

/**
 * The registrable domain of a host by the Public Suffix List, private suffixes included: two shops
 * on one hosting platform (a.myshopify.com, b.myshopify.com) are different owners.
 */
export function registrableDomain(host: string): string | null {
  return getDomain(host, { allowPrivateDomains: true });
}

/** Why a name cannot exist in DNS, beyond the documented pattern, or null when it can. */
export function dnsNameProblem(name: string): string | null {
  if (name.length > 253) return 'must be at most 253 characters';
  const labels = name.split('.');
  if (labels.some((label) => label.length > 63)) return 'must have labels of at most 63 characters';
  // The documented pattern allows hyphens anywhere; host names (RFC 952/1123) never start or end a label with one.
  if (labels.some((label) => label.startsWith('-') || label.endsWith('-'))) return 'must not have a label that starts or ends with a hyphen';
  return null;
}

/** Whether `host` is `domain` itself or a subdomain of it (a look-alike such as notacme.com is not). */
export function isWithin(host: string, domain: string): boolean {
  return host === domain || host.endsWith(`.${domain}`);
}
