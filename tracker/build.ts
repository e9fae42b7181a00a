import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { build } from 'esbuild';

/**
 * Bundles and minifies the tracker into tracker/dist/mtag.js, with its gzip (mtag.js.gz) and
 * brotli (mtag.js.br) forms at their highest levels next to it: compressed once here, served as
 * is. Fails above the 3 KB gzipped budget.
 */
export const TRACKER_BUDGET_BYTES = 3 * 1024;
const entry = fileURLToPath(new URL('./src/mtag.ts', import.meta.url));
const outfile = fileURLToPath(new URL('./dist/mtag.js', import.meta.url));

export function gzipTracker(code: Buffer): Buffer {
  return gzipSync(code, { level: constants.Z_BEST_COMPRESSION });
}

export function brotliTracker(code: Buffer): Buffer {
  return brotliCompressSync(code, {
    params: {
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
      [constants.BROTLI_PARAM_SIZE_HINT]: code.length,
    },
  });
}

export async function buildTracker(): Promise<{ bytes: number; gzipped: number; brotli: number }> {
  mkdirSync(fileURLToPath(new URL('./dist', import.meta.url)), { recursive: true });
  await build({ entryPoints: [entry], outfile, bundle: true, minify: true, format: 'iife', target: ['es2019'], legalComments: 'none' });
  const code = readFileSync(outfile);
  const gzipped = gzipTracker(code);
  if (gzipped.length > TRACKER_BUDGET_BYTES) {
    throw new Error(`mtag.js is ${gzipped.length} bytes gzipped, over the ${TRACKER_BUDGET_BYTES}-byte budget`);
  }
  const brotli = brotliTracker(code);
  writeFileSync(`${outfile}.gz`, gzipped);
  writeFileSync(`${outfile}.br`, brotli);
  return { bytes: code.length, gzipped: gzipped.length, brotli: brotli.length };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { bytes, gzipped, brotli } = await buildTracker();
  writeFileSync(1, `tracker: mtag.js ${bytes} bytes, ${gzipped} gzipped, ${brotli} brotli (budget ${TRACKER_BUDGET_BYTES} gzipped)\n`);
}
