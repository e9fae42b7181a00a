import { request } from 'node:http';
import { batchBody } from './lib/load.js';
import { BROWSER_UA, percentile, type Tenant } from './lib/setup.js';

export interface FanoutResult {
  subscribers: number;
  eventsSent: number;
  eventsPerSecond: number;
  p50: number;
  p99: number;
  missed: number;
  doubled: number;
}

interface Subscriber {
  merchantId: string;
  seen: Map<string, number>;
  close(): void;
}

/** An SSE reader that records, per event id, how often it arrived, and each arrival's delay. */
function subscribe(base: string, token: string, merchantId: string, delays: number[]): Promise<Subscriber> {
  const seen = new Map<string, number>();
  return new Promise((resolve, reject) => {
    const url = new URL(`${base}/v1/partners/events/stream?merchantId=${merchantId}`);
    const req = request({ hostname: url.hostname, port: url.port, path: url.pathname + url.search, headers: { authorization: `Bearer ${token}` } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`stream: ${String(res.statusCode)}`));
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (text: string) => {
        buffer += text;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          if (!data) continue;
          const event = JSON.parse(data) as { eventId: string; properties: { sentAt: number } };
          seen.set(event.eventId, (seen.get(event.eventId) ?? 0) + 1);
          delays.push(Date.now() - event.properties.sentAt);
        }
      });
      resolve({ merchantId, seen, close: () => req.destroy() });
    });
    req.on('error', () => undefined);
    req.end();
  });
}

/** 500 subscribers (20 per partner, 5 per merchant) while the collector takes `rate` events/s. */
export async function fanout(base: string, tenants: Tenant[], rate: number, seconds: number): Promise<FanoutResult> {
  const delays: number[] = [];
  const subscribers: Subscriber[] = [];
  for (const tenant of tenants) {
    for (const { merchantId } of tenant.merchants) {
      for (let i = 0; i < 5; i++) subscribers.push(await subscribe(base, tenant.token, merchantId, delays));
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 500));

  const sent = new Map<string, string[]>(); // merchantId → event ids
  const tags = tenants.flatMap((tenant) => tenant.merchants);
  const perRequest = 50;
  const requestsPerTick = Math.max(1, Math.round(rate / perRequest / 10)); // ten ticks a second
  const started = Date.now();
  let total = 0;
  while (Date.now() - started < seconds * 1000) {
    const tick = Date.now();
    await Promise.all(
      Array.from({ length: requestsPerTick }, async () => {
        const target = tags[Math.floor(Math.random() * tags.length)] ?? tags[0];
        if (!target) return;
        const body = batchBody([target.tagId], perRequest, { properties: { sentAt: Date.now() } });
        const response = await fetch(`${base}/v1/collect`, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': BROWSER_UA }, body });
        if (response.status !== 202) throw new Error(`collect: ${response.status}`);
        const ids = (JSON.parse(body) as { events: { eventId: string }[] }).events.map((e) => e.eventId);
        sent.set(target.merchantId, [...(sent.get(target.merchantId) ?? []), ...ids]);
        total += ids.length;
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 100 - (Date.now() - tick))));
  }
  const elapsed = (Date.now() - started) / 1000;
  await new Promise((resolve) => setTimeout(resolve, 2000)); // let the last deliveries land

  let missed = 0;
  let doubled = 0;
  for (const subscriber of subscribers) {
    for (const id of sent.get(subscriber.merchantId) ?? []) {
      const count = subscriber.seen.get(id) ?? 0;
      if (count === 0) missed++;
      if (count > 1) doubled++;
    }
    subscriber.close();
  }
  delays.sort((a, b) => a - b);
  return { subscribers: subscribers.length, eventsSent: total, eventsPerSecond: total / elapsed, p50: percentile(delays, 50), p99: percentile(delays, 99), missed, doubled };
}
