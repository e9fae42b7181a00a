/**
 * `npm run bench [-- --quick]`: MarkTag's speed as ratios against baselines measured in the same
 * run on the same machine (the machine is shared and noisy, so absolute figures mean little).
 * Starts its own PostgreSQL database (BENCH_DATABASE_URL or DATABASE_URL, else the local server),
 * its own server processes and its own load generator; prints one line a figure and writes the
 * figures to bench/results/.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { eventsApiLatency } from './events-api.js';
import { fanout } from './fanout.js';
import { copyEvents } from './lib/copy.js';
import { batchBody, hammer } from './lib/load.js';
import { peakRssMb, ROOT, startBaseline, startMarktag, type Server } from './lib/processes.js';
import { ADMIN_TOKEN, freshDatabase, tenant, type Tenant } from './lib/setup.js';

const quick = process.argv.includes('--quick');
const SECONDS = quick ? 3 : 10;
const CONNECTIONS = 50;
const API_EVENTS = quick ? 100_000 : 1_000_000;
// A p99 needs enough samples to mean something: of 200, it is the second slowest request.
const SAMPLES = quick ? 40 : 1000;
const FANOUT_RATE = 5000;

interface Figure {
  name: string;
  value: number;
  unit: string;
  target?: string;
  pass?: boolean;
  detail: string;
}
const figures: Figure[] = [];

function report(figure: Figure): void {
  figures.push(figure);
  const verdict = figure.pass === undefined ? 'reported' : figure.pass ? 'PASS' : 'FAIL';
  const target = figure.target ? ` — target ${figure.target}` : '';
  console.log(`${figure.name}: ${figure.value.toFixed(figure.unit === '×' ? 2 : 1)}${figure.unit === '×' ? '×' : ` ${figure.unit}`} (${figure.detail})${target}: ${verdict}`);
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function countEvents(databaseUrl: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return Number((await client.query<{ count: string }>('select count(*) from events')).rows[0]?.count ?? 0);
  } finally {
    await client.end();
  }
}

async function tenants(server: Server, partners: number, merchantsEach: number): Promise<Tenant[]> {
  const list: Tenant[] = [];
  for (let i = 0; i < partners; i++) list.push(await tenant(server, merchantsEach));
  return list;
}

async function main(): Promise<void> {
  const serverUrl = process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const databaseUrl = await freshDatabase(serverUrl, 'marktag_bench');
  const dataDir = mkdtempSync(path.join(tmpdir(), 'marktag-bench-'));
  const env = { DATABASE_URL: databaseUrl, MARKTAG_ADMIN_TOKEN: ADMIN_TOKEN, MARKTAG_DATA_DIR: dataDir };
  console.log(`MarkTag benchmarks${quick ? ' (quick)' : ''}: ${SECONDS} s loads, ${CONNECTIONS} connections, ${fmt(API_EVENTS)} events for the API figures`);
  const running: Server[] = [];

  try {
    // Baseline: what this machine does with no work per request at all.
    const baseline = await startBaseline();
    running.push(baseline);
    const bare = await hammer(baseline.url, { connections: CONNECTIONS, seconds: SECONDS, body: () => batchBody(['00000000-0000-4000-8000-000000000000'], 1) });
    await baseline.stop();

    // 1, 2 and 5: the collector on PostgreSQL, in a fresh process so its peak memory is theirs.
    const server = await startMarktag(env);
    running.push(server);
    const collectorTenant = await tenant(server, 10);
    const tagIds = collectorTenant.merchants.map((m) => m.tagId);
    const one = await hammer(`${server.url}/v1/collect`, { connections: CONNECTIONS, seconds: SECONDS, body: () => batchBody(tagIds, 1) });
    const storedAfterOne = await countEvents(databaseUrl);
    report({
      name: '1. collector, 1 event a request',
      value: one.requestsPerSecond / bare.requestsPerSecond,
      unit: '×',
      target: '≥ 0.45× bare node:http, p99 ≤ 15 ms, no non-2xx',
      pass: one.requestsPerSecond / bare.requestsPerSecond >= 0.45 && one.p99 <= 15 && one.non2xx === 0 && one.errors === 0,
      detail: `${fmt(one.requestsPerSecond)} durable events/s vs ${fmt(bare.requestsPerSecond)} req/s; p50 ${one.p50} ms, p99 ${one.p99} ms; non-2xx ${one.non2xx}, errors ${one.errors}; ${fmt(storedAfterOne)} stored for ${fmt(one.ok)} acknowledged`,
    });

    const fifty = await hammer(`${server.url}/v1/collect`, { connections: CONNECTIONS, seconds: SECONDS, body: () => batchBody(tagIds, 50) });
    const rss = peakRssMb(server.child.pid);
    const batchEvents = fifty.requestsPerSecond * 50;
    const copyRate = await copyEvents(databaseUrl, collectorTenant.merchants.map((m) => ({ ...m, partnerId: collectorTenant.partnerId })), Math.max(50_000, Math.round(fifty.ok * 50)));
    report({
      name: '2. collector, 50 events a request',
      value: batchEvents / copyRate,
      unit: '×',
      target: '≥ 0.5× raw COPY',
      pass: batchEvents / copyRate >= 0.5 && fifty.non2xx === 0,
      detail: `${fmt(batchEvents)} events/s vs COPY ${fmt(copyRate)} rows/s into the same table; p99 ${fifty.p99} ms; non-2xx ${fifty.non2xx}`,
    });
    report({ name: '5. server memory during 1 and 2', value: rss, unit: 'MB', target: '≤ 300 MB peak RSS', pass: rss <= 300, detail: 'VmHWM of the server process' });

    // 3: the Events API over a loaded table.
    const apiTenant = await tenant(server, 100);
    const owners = apiTenant.merchants.map((m) => ({ ...m, partnerId: apiTenant.partnerId }));
    const loadRate = await copyEvents(databaseUrl, owners, API_EVENTS);
    const latency = await eventsApiLatency(server.url, apiTenant.token, apiTenant.merchants.map((m) => m.merchantId), SAMPLES);
    for (const [name, figure] of Object.entries(latency)) {
      report({
        name: `3. events API, ${name}`,
        value: figure.p99,
        unit: 'ms p99',
        target: '≤ 20 ms p99',
        pass: figure.p99 <= 20,
        detail: `p50 ${figure.p50.toFixed(1)} ms over ${SAMPLES} requests, ${fmt(API_EVENTS)} events in 100 merchants (loaded at ${fmt(loadRate)} rows/s)`,
      });
    }

    // 4: live streams while collecting.
    const streamTenants = await tenants(server, 25, 4);
    const spread = await fanout(server.url, streamTenants, FANOUT_RATE, SECONDS);
    report({
      name: '4. stream fan-out',
      value: spread.p99,
      unit: 'ms p99',
      target: '≤ 250 ms collect-to-delivery p99, none missed or doubled',
      pass: spread.p99 <= 250 && spread.missed === 0 && spread.doubled === 0,
      detail: `${spread.subscribers} subscribers, ${fmt(spread.eventsPerSecond)} events/s collected, p50 ${spread.p50} ms; missed ${spread.missed}, doubled ${spread.doubled}`,
    });
    await server.stop();

    // 6: embedded mode (PGlite in the server process): reported, no target.
    const embedded = await startMarktag({ MARKTAG_ADMIN_TOKEN: ADMIN_TOKEN, MARKTAG_DATA_DIR: dataDir });
    running.push(embedded);
    const embeddedTenant = await tenant(embedded, 10);
    const embeddedTags = embeddedTenant.merchants.map((m) => m.tagId);
    const lite = await hammer(`${embedded.url}/v1/collect`, { connections: CONNECTIONS, seconds: SECONDS, body: () => batchBody(embeddedTags, 1) });
    report({
      name: '6. embedded (PGlite): collector, 1 event a request',
      value: lite.requestsPerSecond / bare.requestsPerSecond,
      unit: '×',
      detail: `${fmt(lite.requestsPerSecond)} durable events/s; p99 ${lite.p99} ms; non-2xx ${lite.non2xx}`,
    });
    await hammer(`${embedded.url}/v1/collect`, { connections: 10, seconds: quick ? 2 : 5, body: () => batchBody(embeddedTags, 50, { type: Math.random() < 0.01 ? 'rare_type' : 'page_view' }) });
    const embeddedLatency = await eventsApiLatency(embedded.url, embeddedTenant.token, embeddedTenant.merchants.map((m) => m.merchantId), Math.min(SAMPLES, 50));
    for (const [name, figure] of Object.entries(embeddedLatency)) {
      report({ name: `6. embedded (PGlite): events API, ${name}`, value: figure.p99, unit: 'ms p99', detail: `p50 ${figure.p50.toFixed(1)} ms` });
    }
    await embedded.stop();
  } finally {
    await Promise.all(running.map((server) => server.stop()));
    rmSync(dataDir, { recursive: true, force: true });
  }

  const resultsDir = path.join(ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `${new Date().toISOString().replaceAll(':', '-')}${quick ? '-quick' : ''}.json`);
  writeFileSync(file, `${JSON.stringify({ quick, seconds: SECONDS, figures }, null, 2)}\n`);
  const failed = figures.filter((figure) => figure.pass === false);
  console.log(`${figures.length} figures, ${failed.length} below target; written to ${path.relative(ROOT, file)}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
