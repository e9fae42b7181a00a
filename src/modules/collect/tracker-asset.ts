import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import Negotiator from 'negotiator';

/** Where `npm run build` (and `npm ci`) put the bundled tracker, with its .gz and .br forms. */
export const TRACKER_FILE = fileURLToPath(new URL('../../../tracker/dist/mtag.js', import.meta.url));

export type TrackerEncoding = 'br' | 'gzip' | 'identity';

export interface TrackerVariant {
  body: Buffer;
  /** Differs per encoding: a cache must never answer a gzip request with the brotli bytes. */
  etag: string;
}

export type TrackerAsset = Record<TrackerEncoding, TrackerVariant>;

/** Brotli is the smaller; at equal quality the client gets it first. */
const ENCODINGS: readonly TrackerEncoding[] = ['br', 'gzip', 'identity'];

function etagOf(body: Buffer, suffix: string): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}${suffix}"`;
}

function readBuilt(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch {
    throw new Error(`the tracker is not built (${file}): run "npm run build"`);
  }
}

/** Read once at start-up: the tracker is static for the life of the process. */
export function loadTracker(file = TRACKER_FILE): TrackerAsset {
  const body = readBuilt(file);
  const gzip = readBuilt(`${file}.gz`);
  const br = readBuilt(`${file}.br`);
  // A compressed form left from another build would serve another script to some browsers.
  if (!gunzipSync(gzip).equals(body) || !brotliDecompressSync(br).equals(body)) {
    throw new Error(`the compressed forms of ${file} are stale: run "npm run build"`);
  }
  const identityTag = etagOf(body, '');
  return {
    identity: { body, etag: identityTag },
    gzip: { body: gzip, etag: etagOf(body, '-gzip') },
    br: { body: br, etag: etagOf(body, '-br') },
  };
}

/** The encoding to send for an Accept-Encoding header (q-values honoured); identity when none is acceptable. */
export function trackerEncoding(headers: Readonly<Record<string, string | readonly string[] | undefined>>): TrackerEncoding {
  const chosen = new Negotiator({ headers }).encoding(ENCODINGS, { preferred: ENCODINGS });
  return ENCODINGS.find((encoding) => encoding === chosen) ?? 'identity';
}
