import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Where `npm run build` (and `npm ci`) put the bundled tracker. */
export const TRACKER_FILE = fileURLToPath(new URL('../../../tracker/dist/mtag.js', import.meta.url));

export interface TrackerAsset {
  body: Buffer;
  etag: string;
}

/** Read once at start-up: the tracker is static for the life of the process. */
export function loadTracker(file = TRACKER_FILE): TrackerAsset {
  let body: Buffer;
  try {
    body = readFileSync(file);
  } catch {
    throw new Error(`the tracker is not built (${file}): run "npm run build"`);
  }
  return { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}
