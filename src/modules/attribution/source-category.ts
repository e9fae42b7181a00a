import { getDomain, getDomainWithoutSuffix } from 'tldts';
import { SOURCE_LISTS, type SourceCategory } from './sources.js';

const SETS = Object.fromEntries(
  Object.entries(SOURCE_LISTS).map(([category, lists]) => [category, { brands: new Set<string>(lists.brands), domains: new Set<string>(lists.domains) }]),
) as Record<SourceCategory, { brands: Set<string>; domains: Set<string> }>;

/** Prefixes browsers and link shims really send (www.google.com, m.facebook.com, l.facebook.com). */
const HOST_PREFIX = /^(?:www\d?|m|l|lm|mobile|mbasic|amp)\./;

/** Webmail on a search brand's domain (mail.google.com) is not a search. */
const WEBMAIL = /^(?:mail|webmail|email|outlook)\./;

const cache = new Map<string, Set<SourceCategory>>();
const CACHE_LIMIT = 5000;

/**
 * The GA4 source categories (search, social, video, shopping) a source belongs to: a utm_source
 * (`google`, `facebook.com`) or a referrer host (`www.google.co.uk`, `l.facebook.com`), matched by
 * whole domain or by brand (the registrable name without its public suffix).
 */
export function categoriesOf(source: string): Set<SourceCategory> {
  const known = cache.get(source);
  if (known) return known;
  const name = source.toLowerCase().replace(HOST_PREFIX, '');
  const isHost = name.includes('.');
  const domain = isHost ? getDomain(name) : null;
  const brand = isHost ? getDomainWithoutSuffix(name) : name;
  const found = new Set<SourceCategory>();
  for (const category of Object.keys(SETS) as SourceCategory[]) {
    const { brands, domains } = SETS[category];
    const byDomain = domains.has(name) || (domain !== null && domains.has(domain));
    const byBrand = brand !== null && brands.has(brand) && !(category === 'search' && WEBMAIL.test(name));
    if (byDomain || byBrand) found.add(category);
  }
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(source, found);
  return found;
}
