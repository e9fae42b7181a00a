import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's chromium. In CI a missing browser fails the run; elsewhere the browser tests are skipped with a note. */
export const CHROMIUM = '/usr/bin/chromium';
export const haveBrowser = existsSync(CHROMIUM);
if (!haveBrowser && process.env.CI) throw new Error(`${CHROMIUM} is missing: CI must install Debian's chromium (see .ci/run)`);
if (!haveBrowser) console.warn(`skipping the browser tests: ${CHROMIUM} is not installed (apt-get install chromium)`);

export const DESKTOP_CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

/** The browser of the tracker tests: every host under the partner domain resolves to loopback. */
export function launchTrackerBrowser(partnerDomain: string): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      `--host-resolver-rules=MAP *.${partnerDomain} 127.0.0.1`,
      // Every request, beacons of closing pages included, as a desktop browser (HeadlessChrome is a bot to isbot).
      `--user-agent=${DESKTOP_CHROME}`,
    ],
  });
}
