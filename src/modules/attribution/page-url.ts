import { ATTRIBUTION_PARAMS } from './sources.js';

const ALWAYS_KEPT = new Set(ATTRIBUTION_PARAMS);

/** A URL as it is parsed once for both privacy and attribution: null when it does not parse. */
export interface ParsedPage {
  url: URL | null;
  /** The text before the query and fragment, as sent (a browser's location.href is already normal). */
  base: string;
  /** `name=value` pairs of the query, as sent, with their decoded names. */
  pairs: { name: string; text: string }[];
}

function decoded(name: string): string {
  try {
    return decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    return name;
  }
}

export function parsePage(text: string): ParsedPage {
  const queryStart = text.indexOf('?');
  const hashStart = text.indexOf('#');
  const cut = queryStart === -1 ? hashStart : hashStart === -1 ? queryStart : Math.min(queryStart, hashStart);
  const rawBase = cut === -1 ? text : text.slice(0, cut);
  let url: URL | null;
  try {
    url = new URL(text);
  } catch {
    url = null;
  }
  // Credentials in a URL (https://user:secret@host/) are never kept: the base is rebuilt without them.
  const base = url && text.includes('@') && (url.username || url.password) ? `${url.protocol}//${url.host}${url.pathname}` : rawBase;
  const query = queryStart === -1 || (hashStart !== -1 && hashStart < queryStart) ? '' : text.slice(queryStart + 1, hashStart === -1 ? undefined : hashStart);
  const pairs: ParsedPage['pairs'] = [];
  // Most pages have no query: nothing to split.
  if (query !== '') {
    for (const pair of query.split('&')) if (pair.length > 0) pairs.push({ name: decoded(pair.split('=')[0] ?? ''), text: pair });
  }
  return { url, base, pairs };
}

/**
 * The URL as stored: scheme, host and path as sent, and only the attribution parameters and the
 * merchant's own ones of its query string, in their order; never the fragment, nor credentials.
 * A URL that does not parse keeps only what comes before its query.
 */
export function storedUrl(page: ParsedPage, keep: readonly string[]): string {
  const kept = page.url === null ? [] : page.pairs.filter((pair) => ALWAYS_KEPT.has(pair.name) || keep.includes(pair.name));
  return kept.length === 0 ? page.base : `${page.base}?${kept.map((pair) => pair.text).join('&')}`;
}

/** A referrer as stored: its origin and path only (nothing of its query or fragment, no credentials). */
export function storedReferrer(referrer: string | undefined): { text: string | null; url: URL | null } {
  if (referrer === undefined || referrer === '') return { text: null, url: null };
  const page = parsePage(referrer);
  if (page.url === null) return { text: page.base || null, url: null };
  return { text: `${page.url.origin === 'null' ? page.base : page.url.origin}${page.url.origin === 'null' ? '' : page.url.pathname}`, url: page.url };
}
