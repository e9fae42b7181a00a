import { readdirSync, readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { BROWSER_UA } from './setup.js';

/** Jiffies to milliseconds (Linux's USER_HZ is 100 on every platform it runs on). */
const MS_PER_TICK = 10;

/** CPU a process has used so far (user + system), in ms; NaN when it is gone or not on Linux. */
export function processCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK;
  } catch {
    return NaN;
  }
}

/** CPU of every PostgreSQL process on this machine so far, by pid (empty when the database is elsewhere). */
export function postgresCpu(): Map<number, number> {
  const cpu = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').startsWith('postgres')) cpu.set(Number(entry), processCpuMs(Number(entry)));
    } catch {
      // The process ended while the list was read.
    }
  }
  return cpu;
}

export interface CpuCost {
  /** Requests answered 2xx a second (the offered rate, when the server keeps up). */
  requestsPerSecond: number;
  /** CPU of the server process a request, µs. */
  serverUs: number;
  /** CPU of the local PostgreSQL processes a request (those alive at both ends), µs. */
  databaseUs: number;
  non2xx: number;
  p99: number;
}

/**
 * What one request costs in CPU at a fixed offered rate, well below saturation. Unlike throughput
 * under closed-loop load, which swings with whatever else the shared machine runs, a cost a
 * request moves little, so it is the figure that tells one release's per-request work from another's.
 */
export async function cpuCost(url: string, pid: number, options: { rate: number; seconds: number; body: () => string }): Promise<CpuCost> {
  const run = (seconds: number) =>
    autocannon({
      url,
      method: 'POST',
      connections: 50,
      duration: seconds,
      overallRate: options.rate,
      headers: { 'content-type': 'application/json', 'user-agent': BROWSER_UA },
      requests: [{ setupRequest: (request) => ({ ...request, body: options.body() }) }],
    });
  await run(1); // warm-up: JIT, pools, prepared statements
  const serverBefore = processCpuMs(pid);
  const databaseBefore = postgresCpu();
  const result = await run(options.seconds);
  const serverAfter = processCpuMs(pid);
  let database = 0;
  for (const [databasePid, after] of postgresCpu()) {
    const before = databaseBefore.get(databasePid);
    if (before !== undefined) database += after - before;
  }
  const ok = result['2xx'];
  return {
    requestsPerSecond: ok / (result.duration || options.seconds),
    serverUs: ((serverAfter - serverBefore) * 1000) / Math.max(1, ok),
    databaseUs: (database * 1000) / Math.max(1, ok),
    non2xx: result.non2xx,
    p99: result.latency.p99,
  };
}
