import { existsSync, readFileSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TRACKER_FILE } from '../../src/modules/collect/tracker-asset.js';
import { createTestApp, type TestContext } from '../helpers/app.js';

/** Chromium fetches mtag.js brotli-encoded, decodes it to the built script, and revalidates it by its ETag. */
const CHROMIUM = '/usr/bin/chromium';
const haveBrowser = existsSync(CHROMIUM);
if (!haveBrowser && process.env.CI) throw new Error(`${CHROMIUM} is missing: CI must install Debian's chromium (see .ci/run)`);

describe.skipIf(!haveBrowser)('mtag.js in Chromium', () => {
  let ctx: TestContext;
  let browser: Browser;
  let url: string;
  /** What the server answered for mtag.js, and whether the browser revalidated. */
  const served: { status: number; ifNoneMatch: string | undefined }[] = [];

  beforeAll(async () => {
    ctx = await createTestApp({}, {}, (app) => {
      app.addHook('onResponse', async (request, reply) => {
        if (request.url === '/mtag.js') served.push({ status: reply.statusCode, ifNoneMatch: request.headers['if-none-match'] });
      });
    });
    url = await ctx.app.listen({ port: 0, host: '127.0.0.1' });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await ctx?.app.close();
  });

  it('is sent with brotli, decoded by the browser to the built script, and revalidated with a 304', async () => {
    const page = await browser.newPage();
    const first = await page.goto(`${url}/mtag.js`);
    expect(first?.status()).toBe(200);
    const headers = first?.headers() ?? {};
    expect(headers['content-encoding']).toBe('br');
    expect(headers.vary).toContain('Accept-Encoding');
    expect((await first?.body())?.equals(readFileSync(TRACKER_FILE))).toBe(true);
    // A reload revalidates the cached copy with the brotli ETag.
    const again = await page.reload();
    expect(served).toEqual([
      { status: 200, ifNoneMatch: undefined },
      { status: 304, ifNoneMatch: headers.etag },
    ]);
    expect((await again?.body())?.equals(readFileSync(TRACKER_FILE))).toBe(true);
    await page.close();
  });
});
