/**
 * `npm run bench -- --against <git ref>`: figure 1 of this checkout against the same figure of
 * another release, built from git in a temporary worktree, the two taking the load in turn on one
 * PostgreSQL. Closed-loop throughput swings by tens of percent with what else a shared machine
 * runs, so one run of each says little; alternated rounds, each on a fresh database, compare the
 * two under the same drift. Beside the throughput, the CPU an event costs under that load (server
 * process, and the local PostgreSQL processes) tells where a difference comes from.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { postgresCpu, processCpuMs } from './lib/cpu.js';
import { batchBody, hammer } from './lib/load.js';
import { ROOT, startMarktag, type Server } from './lib/processes.js';
import { ADMIN_TOKEN, freshDatabase, tenant } from './lib/setup.js';

export interface Side {
  /** events/s of each round */
  rates: number[];
  /** server and PostgreSQL CPU an event, µs, each round */
  serverUs: number[];
  databaseUs: number[];
  p99: number[];
  non2xx: number;
}

export interface Comparison {
  ref: string;
  commit: string;
  before: Side;
  after: Side;
  /** mean of this checkout's rounds ÷ mean of the other's, minus 1 */
  change: number;
}

const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);

const run = (command: string, args: string[], cwd: string) => execFileSync(command, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });

/** A worktree of `ref`, installed and built as a user would (`npm ci`, `npm run build`). */
function buildRelease(ref: string): { dir: string; commit: string; remove: () => void } {
  const commit = run('git', ['rev-parse', '--verify', `${ref}^{commit}`], ROOT).trim();
  const dir = mkdtempSync(path.join(tmpdir(), 'marktag-against-'));
  run('git', ['worktree', 'add', '--detach', dir, commit], ROOT);
  const remove = () => {
    try {
      run('git', ['worktree', 'remove', '--force', dir], ROOT);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], dir);
    run('npm', ['run', 'build'], dir);
  } catch (error) {
    remove();
    throw error;
  }
  return { dir, commit, remove };
}

/** CPU of the local PostgreSQL processes between two readings (those alive at both), ms. */
function databaseCpuSince(before: Map<number, number>): number {
  let total = 0;
  for (const [pid, after] of postgresCpu()) {
    const start = before.get(pid);
    if (start !== undefined) total += after - start;
  }
  return total;
}

/** The server of the round under way, stopped too when the run is interrupted. */
let current: Server | undefined;

/** One round of figure 1 on a fresh database: 10 merchants, 50 connections, one event a request. */
async function round(root: string, databaseServerUrl: string, seconds: number, dataDir: string, side: Side): Promise<void> {
  const databaseUrl = await freshDatabase(databaseServerUrl, 'marktag_bench_against');
  const server: Server = await startMarktag({ DATABASE_URL: databaseUrl, MARKTAG_ADMIN_TOKEN: ADMIN_TOKEN, MARKTAG_DATA_DIR: dataDir, MARKTAG_API_RATE_LIMIT: '10000000' }, root);
  current = server;
  try {
    const tagIds = (await tenant(server, 10)).merchants.map((m) => m.tagId);
    // Warm-up: JIT, pools, prepared statements and the tags' first events, not counted.
    await hammer(`${server.url}/v1/collect`, { connections: 50, seconds: 1, body: () => batchBody(tagIds, 1) });
    const pid = server.child.pid ?? 0;
    const serverBefore = processCpuMs(pid);
    const databaseBefore = postgresCpu();
    const result = await hammer(`${server.url}/v1/collect`, { connections: 50, seconds, body: () => batchBody(tagIds, 1) });
    const events = Math.max(1, result.ok);
    side.rates.push(result.requestsPerSecond);
    side.serverUs.push(((processCpuMs(pid) - serverBefore) * 1000) / events);
    side.databaseUs.push((databaseCpuSince(databaseBefore) * 1000) / events);
    side.p99.push(result.p99);
    side.non2xx += result.non2xx + result.errors;
  } finally {
    current = undefined;
    await server.stop();
  }
}

export async function compareAgainst(ref: string, options: { databaseServerUrl: string; rounds: number; seconds: number; log: (line: string) => void }): Promise<Comparison> {
  options.log(`building ${ref} in a temporary worktree (npm ci, npm run build)…`);
  const release = buildRelease(ref);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'marktag-against-data-'));
  // Interrupted (Ctrl-C), the run still stops its server and removes its worktree, so git does not keep listing it.
  const interrupted = () => {
    current?.child.kill('SIGTERM');
    release.remove();
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  const empty = (): Side => ({ rates: [], serverUs: [], databaseUs: [], p99: [], non2xx: 0 });
  const before = empty();
  const after = empty();
  try {
    for (let i = 0; i < options.rounds; i++) {
      // Which goes first alternates too, so neither always follows the other's vacuum and checkpoints.
      const order: [string, Side][] = i % 2 === 0 ? [[release.dir, before], [ROOT, after]] : [[ROOT, after], [release.dir, before]];
      for (const [root, side] of order) await round(root, options.databaseServerUrl, options.seconds, dataDir, side);
      options.log(`round ${i + 1}/${options.rounds}: ${ref} ${Math.round(before.rates.at(-1) ?? 0)} events/s, this checkout ${Math.round(after.rates.at(-1) ?? 0)} events/s`);
    }
  } finally {
    process.off('SIGINT', interrupted);
    release.remove();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return { ref, commit: release.commit, before, after, change: mean(after.rates) / mean(before.rates) - 1 };
}

export { mean };
