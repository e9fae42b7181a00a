import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CreatePartnerResponse } from '../src/modules/admin/schemas.js';
import { ADMIN_TOKEN } from './helpers/app.js';
import { engine } from './helpers/database.js';
import { finished, listeningUrls, spawnCli, type Finished } from './helpers/process.js';
import { SseClient } from './helpers/sse.js';

/**
 * The promises that need a real process: a SIGTERM finishes what it acknowledged and ends streams
 * with a final message; a SIGKILL loses nothing that was acknowledged. Acknowledged means stored.
 */
const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const dataDir = mkdtempSync(path.join(tmpdir(), 'marktag-resilience-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const env = {
  PORT: '0',
  HOST: '127.0.0.1',
  MARKTAG_DATA_DIR: dataDir,
  MARKTAG_ADMIN_TOKEN: ADMIN_TOKEN,
  MARKTAG_REVERIFY_INTERVAL: 'off',
  LOG_LEVEL: 'info',
  ...(process.env.TEST_DATABASE_URL ? { DATABASE_URL: process.env.TEST_DATABASE_URL } : {}),
};

interface Server {
  url: string;
  adminUrl: string;
  kill: (signal: NodeJS.Signals) => void;
  exit: Promise<Finished>;
}

async function start(): Promise<Server> {
  const child = spawnCli(['serve'], env);
  const exit = finished(child);
  const { url, adminUrl } = await listeningUrls(child);
  return { url, adminUrl, kill: (signal) => child.kill(signal), exit };
}

async function api<T>(url: string, token: string, method: string, route: string, body?: unknown): Promise<T> {
  const response = await fetch(`${url}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok) throw new Error(`${method} ${route}: ${response.status}`);
  return (await response.json()) as T;
}

/** A partner (onboarded on the admin listener), a merchant and a live tag on a running server. */
async function liveTag({ url, adminUrl }: Server): Promise<{ token: string; merchantId: string; tagId: string }> {
  const domain = `r${randomUUID().slice(0, 8)}.test`;
  const partner = await api<CreatePartnerResponse>(adminUrl, ADMIN_TOKEN, 'POST', '/v1/admin/partners', { name: 'Resilience', domain });
  const { merchantId } = await api<{ merchantId: string }>(url, partner.token, 'POST', '/v1/partners/merchant', { name: 'M' });
  const { tagId } = await api<{ tagId: string }>(url, partner.token, 'POST', '/v1/partners/marktag/generate', { merchantId, domain });
  return { token: partner.token, merchantId, tagId };
}

/** Posts events with fresh ids from several loops until told to stop; returns the ids answered 202. */
function produce(url: string, tagId: string): { stop: () => Promise<string[]> } {
  const acknowledged: string[] = [];
  let running = true;
  const loop = async () => {
    while (running) {
      const ids = [randomUUID(), randomUUID()];
      try {
        const response = await fetch(`${url}/v1/collect`, {
          method: 'POST',
          headers: { 'content-type': 'text/plain', 'user-agent': UA },
          body: JSON.stringify({ tagId, visitorId: 'v', events: ids.map((eventId) => ({ eventId, type: 'page_view', url: 'https://r.test/' })) }),
        });
        if (response.status === 202) acknowledged.push(...ids);
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 20)); // the server is gone: keep trying until stopped
      }
    }
  };
  const loops = Array.from({ length: 8 }, loop);
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return acknowledged;
    },
  };
}

async function storedIds(url: string, token: string, merchantId: string): Promise<string[]> {
  const response = await fetch(`${url}/v1/partners/events/export?merchantId=${merchantId}`, { headers: { authorization: `Bearer ${token}` } });
  const text = await response.text();
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { eventId: string }).eventId);
}

function expectAllOnce(acknowledged: string[], stored: string[]): void {
  const counts = new Map<string, number>();
  for (const id of stored) counts.set(id, (counts.get(id) ?? 0) + 1);
  const missing = acknowledged.filter((id) => !counts.has(id));
  const doubled = [...counts].filter(([, count]) => count > 1);
  expect(missing, `${missing.length} of ${acknowledged.length} acknowledged events are missing`).toEqual([]);
  expect(doubled).toEqual([]);
}

describe('a server process', () => {
  it('on SIGTERM finishes and stores what it acknowledged, ends streams with a final message, and exits within 10 s', async () => {
    const first = await start();
    const { token, merchantId, tagId } = await liveTag(first);
    const stream = await SseClient.open(`${first.url}/v1/partners/events/stream?merchantId=${merchantId}`, { authorization: `Bearer ${token}` });
    const producer = produce(first.url, tagId);
    await new Promise((resolve) => setTimeout(resolve, 700));
    const stopping = Date.now();
    first.kill('SIGTERM');
    // New requests are refused from then on: 503 while in-flight work finishes, then no listener.
    await new Promise((resolve) => setTimeout(resolve, 30));
    const late = await fetch(`${first.url}/healthz`).then(
      (response) => response.status,
      () => 'refused' as const,
    );
    expect([503, 'refused']).toContain(late);
    const { code } = await first.exit;
    expect(Date.now() - stopping).toBeLessThan(10_000);
    expect(code).toBe(0);
    const acknowledged = await producer.stop();
    expect(acknowledged.length).toBeGreaterThan(0);
    await stream.until(() => stream.ended, 5000);
    expect(stream.messages.at(-1)).toMatchObject({ event: 'close', data: JSON.stringify({ reason: 'server shutting down' }) });

    const second = await start();
    try {
      expectAllOnce(acknowledged, await storedIds(second.url, token, merchantId));
    } finally {
      second.kill('SIGTERM');
      await second.exit;
    }
  }, 90_000);

  it.runIf(engine === 'postgres')('on SIGKILL at random moments loses nothing it acknowledged and stores nothing twice', async () => {
    let server = await start();
    const { token, merchantId, tagId } = await liveTag(server);
    const acknowledged: string[] = [];
    for (let round = 0; round < 3; round++) {
      const producer = produce(server.url, tagId);
      await new Promise((resolve) => setTimeout(resolve, 300 + Math.random() * 700));
      server.kill('SIGKILL');
      await server.exit;
      acknowledged.push(...(await producer.stop()));
      server = await start();
    }
    try {
      expect(acknowledged.length).toBeGreaterThan(0);
      expectAllOnce(acknowledged, await storedIds(server.url, token, merchantId));
    } finally {
      server.kill('SIGTERM');
      await server.exit;
    }
  }, 120_000);
});
