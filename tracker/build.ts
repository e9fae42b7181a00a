import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

/** Bundles and minifies the tracker into tracker/dist/mtag.js; fails above the 3 KB gzipped budget. */
export const TRACKER_BUDGET_BYTES = 3 * 1024;
const entry = fileURLToPath(new URL('./src/mtag.ts', import.meta.url));
const outfile = fileURLToPath(new URL('./dist/mtag.js', import.meta.url));

export async function buildTracker(): Promise<{ bytes: number; gzipped: number }> {
  mkdirSync(fileURLToPath(new URL('./dist', import.meta.url)), { recursive: true });
  await build({ entryPoints: [entry], outfile, bundle: true, minify: true, format: 'iife', target: ['es2019'], legalComments: 'none' });
  const code = readFileSync(outfile);
  const gzipped = gzipSync(code, { level: 9 }).length;
  if (gzipped > TRACKER_BUDGET_BYTES) throw new Error(`mtag.js is ${gzipped} bytes gzipped, over the ${TRACKER_BUDGET_BYTES}-byte budget`);
  return { bytes: code.length, gzipped };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { bytes, gzipped } = await buildTracker();
  writeFileSync(1, `tracker: mtag.js ${bytes} bytes, ${gzipped} bytes gzipped (budget ${TRACKER_BUDGET_BYTES})\n`);
}
