import { percentile } from './lib/setup.js';

export interface Latency {
  p50: number;
  p99: number;
  /** Answers other than 2xx (timed all the same), where a read may fail (the summary). */
  non2xx?: number;
}

async function timed(url: string, token: string): Promise<{ ms: number; body: unknown }> {
  const started = performance.now();
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const body: unknown = await response.json();
  const ms = performance.now() - started;
  if (!response.ok) throw new Error(`${url}: ${response.status} ${JSON.stringify(body)}`);
  return { ms, body };
}

async function measure(samples: number, next: () => Promise<number>): Promise<Latency> {
  for (let i = 0; i < Math.min(10, samples); i++) await next(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < samples; i++) times.push(await next());
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

/**
 * Latency of the Events API's typical reads, one request at a time, across random merchants; with
 * `tagOf` (a merchant's tag), also a page filtered by tag. The summary takes `summarySamples`
 * (default `samples`): over a big merchant it reads its whole range, so fewer bound the run.
 */
export async function eventsApiLatency(
  base: string,
  token: string,
  merchantIds: string[],
  samples: number,
  { tagOf, summarySamples = samples }: { tagOf?: (merchantId: string) => string; summarySamples?: number } = {},
): Promise<Record<'newestPage' | 'rareTypePage' | 'fifthPage' | 'dailySummary', Latency> & { tagPage?: Latency }> {
  const random = () => merchantIds[Math.floor(Math.random() * merchantIds.length)] ?? '';
  const list = (merchantId: string, extra = '') => `${base}/v1/partners/events?merchantId=${merchantId}&limit=100${extra}`;

  // Cursors to the fifth page of some merchants, found beforehand.
  const fifth: string[] = [];
  for (const merchantId of merchantIds.slice(0, 20)) {
    let cursor = '';
    for (let page = 1; page < 5; page++) {
      const { body } = await timed(list(merchantId, cursor ? `&cursor=${cursor}` : ''), token);
      cursor = (body as { pagination: { nextCursor: string } }).pagination.nextCursor;
    }
    fifth.push(list(merchantId, `&cursor=${cursor}`));
  }
  const to = new Date();
  const from = new Date(to.getTime() - 30 * 24 * 3600 * 1000);
  // A summary too big for the statement timeout is answered 503: counted, not thrown.
  let summaryFailures = 0;
  const summaryUrl = () => `${base}/v1/partners/events/summary?merchantId=${random()}&from=${from.toISOString()}&to=${to.toISOString()}&interval=day`;
  const newestPage = await measure(samples, async () => (await timed(list(random()), token)).ms);
  const rareTypePage = await measure(samples, async () => (await timed(list(random(), '&type=rare_type'), token)).ms);
  const tagPage = tagOf
    ? await measure(samples, async () => {
        const merchantId = random();
        return (await timed(list(merchantId, `&tagId=${tagOf(merchantId)}`), token)).ms;
      })
    : undefined;
  return {
    newestPage,
    rareTypePage,
    ...(tagPage ? { tagPage } : {}),
    fifthPage: await measure(samples, async () => (await timed(fifth[Math.floor(Math.random() * fifth.length)] ?? '', token)).ms),
    dailySummary: {
      ...(await measure(summarySamples, async () => {
        const started = performance.now();
        const response = await fetch(summaryUrl(), { headers: { authorization: `Bearer ${token}` } });
        await response.arrayBuffer();
        if (!response.ok) summaryFailures++;
        return performance.now() - started;
      })),
      non2xx: summaryFailures,
    },
  };
}
