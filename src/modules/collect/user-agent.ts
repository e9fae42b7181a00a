import Bowser from 'bowser';

export interface Device {
  type: string | null;
  browser: string | null;
  os: string | null;
}

/** Device class, browser and OS from a user agent (bowser, MIT). Never stores the raw string. */
export function parseDevice(userAgent: string): Device {
  const parsed = Bowser.parse(userAgent);
  return {
    type: parsed.platform.type ?? null,
    browser: parsed.browser.name ?? null,
    os: parsed.os.name ?? null,
  };
}
