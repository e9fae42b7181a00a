import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type Listener = 'public' | 'admin';
export type CollectorOutcome = 'accepted' | 'duplicate' | 'ignored' | 'refused';
export type DnsCheck = 'verify' | 'recheck';
export type DnsOutcome = 'verified' | 'failed' | 'unavailable';

/** Seconds: from a cached tag look-up to a slow export. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

/**
 * What the operator's Prometheus scrapes at /metrics on the admin listener. One registry per app
 * (never prom-client's global one), so several apps in one process, as in tests, count apart.
 * Parts that count hold this object; state that already exists elsewhere (queue depth, open
 * streams, pool) is read at scrape time instead of being copied into gauges as it changes.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'marktag_http_requests_total',
    help: 'HTTP requests answered, by listener, method, route template and status code',
    labelNames: ['listener', 'method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'marktag_http_request_duration_seconds',
    help: 'Time from request to the end of the answer (the whole stream for live streams and exports)',
    labelNames: ['listener', 'method', 'route'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly collectorEvents = new Counter({
    name: 'marktag_collector_events_total',
    help: 'Collector events: accepted (stored for the first time), duplicate (already stored), ignored (bots), refused (in a request answered with an error)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly batchEvents = new Histogram({
    name: 'marktag_batch_events',
    help: 'Events per group-commit flush',
    buckets: BATCH_BUCKETS,
    registers: [this.registry],
  });

  readonly batchCommitDuration = new Histogram({
    name: 'marktag_batch_commit_duration_seconds',
    help: 'Time to write and commit one group-commit flush, by result (committed or failed)',
    labelNames: ['result'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly dnsVerifications = new Counter({
    name: 'marktag_dns_verifications_total',
    help: 'DNS checks of custom tags: verify calls and background re-checks, by outcome (verified, failed, unavailable resolver)',
    labelNames: ['check', 'outcome'] as const,
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    // CPU, memory, event-loop lag, GC: the standard process series, unprefixed as dashboards expect them.
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /**
   * A gauge read when scraped. `read` answering undefined (or failing) reports NaN for that scrape:
   * an unknown value, never a stale or a made-up one (a series without labels cannot be left out).
   */
  gauge(name: string, help: string, read: () => number | undefined | Promise<number | undefined>): void {
    new Gauge({
      name,
      help,
      registers: [this.registry],
      async collect() {
        const value = await Promise.resolve()
          .then(read)
          .catch(() => undefined);
        this.set(value ?? NaN);
      },
    });
  }

  /** A gauge with one label, read when scraped: every label value at once (a pool's idle and busy connections). */
  labelledGauge(name: string, help: string, label: string, read: () => Record<string, number>): void {
    new Gauge({
      name,
      help,
      labelNames: [label],
      registers: [this.registry],
      collect() {
        for (const [value, count] of Object.entries(read())) this.set({ [label]: value }, count);
      },
    });
  }

  /** The Prometheus text exposition of every series. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
