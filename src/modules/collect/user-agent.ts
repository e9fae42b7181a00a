import Bowser from 'bowser';
import { isbot } from 'isbot';

export interface Device {
  type: string | null;
  browser: string | null;
  os: string | null;
}

export interface Agent {
  bot: boolean;
  device: Device;
}

/** Distinct user agents are few next to requests: parsing each once is most of the saving. */
const CACHE_LIMIT = 2000;
const cache = new Map<string, Agent>();

/**
 * Bot or not (isbot), and device class, browser and OS (bowser, MIT). A missing user agent counts
 * as a bot. The raw string is never stored.
 */
export function inspectAgent(userAgent: string | undefined): Agent {
  if (!userAgent) return { bot: true, device: { type: null, browser: null, os: null } };
  const hit = cache.get(userAgent);
  if (hit) return hit;
  const parsed = Bowser.parse(userAgent);
  const agent: Agent = {
    bot: isbot(userAgent),
    device: { type: parsed.platform.type ?? null, browser: parsed.browser.name ?? null, os: parsed.os.name ?? null },
  };
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(userAgent, agent);
  return agent;
}
