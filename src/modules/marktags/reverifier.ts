import type { FastifyBaseLogger } from 'fastify';
import type { DatabaseHandle } from '../../db/client.js';
import type { MarktagRow } from '../../db/schema/index.js';
import { DnsUnavailableError, type DnsResolver } from './dns-resolver.js';
import { verifyDns } from './dns-verifier.js';
import type { MarktagsRepository } from './repository.js';
import type { Metrics } from '../metrics/metrics.js';

export interface ReverifierOptions {
  /** How often each live custom tag is re-checked. */
  intervalMs: number;
  dnsTimeoutMs: number;
  /** DNS checks in flight at once. */
  concurrency?: number;
  /** Consecutive definite failures that disconnect a tag. */
  failuresToDisconnect?: number;
  /** Tags checked per run at most; the rest wait for the next run. */
  batchSize?: number;
}

export interface RecheckSummary {
  checked: number;
  passed: number;
  failed: number;
  inconclusive: number;
  disconnected: number;
  /** False when another process held the lock and this run did nothing. */
  ran: boolean;
}

/** Arbitrary, fixed: the advisory lock that keeps re-verification to one process at a time. */
const RECHECK_LOCK_ID = 7_305_826_412;
const JITTER = 0.2;
const RECHECK_OUTCOMES = { passed: 'verified', failed: 'failed', inconclusive: 'unavailable' } as const;

/**
 * Re-checks verified custom tags in the background: the CNAME of the host that matched must still
 * reach the target. A definite failure (record gone or pointing elsewhere) counts; a resolver
 * outage does not. Three consecutive failures disconnect the tag; a successful verify restores it.
 */
export class Reverifier {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RecheckSummary> | undefined;
  private stopped = false;

  constructor(
    private readonly database: DatabaseHandle,
    private readonly tags: MarktagsRepository,
    private readonly dns: DnsResolver,
    private readonly options: ReverifierOptions,
    private readonly log: FastifyBaseLogger,
    private readonly metrics?: Metrics,
  ) {}

  /** Verified custom tags due for a re-check now: the work the next runs have ahead of them. */
  async backlog(): Promise<number> {
    return this.tags.countDueForRecheck(this.options.intervalMs * (1 - JITTER));
  }

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One pass over the tags due. `partnerId` confines it to one partner's tags; `dueAfterMs` overrides the interval. */
  async runOnce(scope: { partnerId?: string; dueAfterMs?: number } = {}): Promise<RecheckSummary> {
    // Runs in this process never overlap; the advisory lock keeps other processes out.
    this.running ??= this.pass(scope).finally(() => (this.running = undefined));
    return this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    const delay = this.options.intervalMs * (1 - JITTER + Math.random() * 2 * JITTER);
    this.timer = setTimeout(() => {
      this.runOnce()
        .then((summary) => {
          if (summary.checked > 0) this.log.info({ recheck: summary }, 're-verified tags');
        })
        .catch((error: unknown) => this.log.warn({ err: error }, 're-verification failed; will try again'))
        .finally(() => this.schedule());
    }, delay);
    this.timer.unref();
  }

  private async pass(scope: { partnerId?: string; dueAfterMs?: number }): Promise<RecheckSummary> {
    const attempt = await this.database.tryWithLock(RECHECK_LOCK_ID, async () => {
      const dueAfter = scope.dueAfterMs ?? this.options.intervalMs * (1 - JITTER);
      const due = await this.tags.dueForRecheck(dueAfter, this.options.batchSize ?? 500, scope.partnerId);
      const summary: RecheckSummary = { checked: 0, passed: 0, failed: 0, inconclusive: 0, disconnected: 0, ran: true };
      const queue = [...due];
      const worker = async () => {
        for (let tag = queue.shift(); tag && !this.stopped; tag = queue.shift()) await this.check(tag, summary);
      };
      await Promise.all(Array.from({ length: this.options.concurrency ?? 4 }, worker));
      return summary;
    });
    return attempt.ran ? attempt.value : { checked: 0, passed: 0, failed: 0, inconclusive: 0, disconnected: 0, ran: false };
  }

  private async check(tag: MarktagRow, summary: RecheckSummary): Promise<void> {
    if (!tag.trackingHost || !tag.recordValue) return;
    let outcome: 'passed' | 'failed' | 'inconclusive';
    try {
      const result = await verifyDns(this.dns, { candidates: [tag.trackingHost], target: tag.recordValue }, this.options.dnsTimeoutMs);
      outcome = result.matched ? 'passed' : 'failed';
    } catch (error) {
      if (!(error instanceof DnsUnavailableError)) throw error;
      outcome = 'inconclusive';
    }
    summary.checked++;
    summary[outcome]++;
    this.metrics?.dnsVerifications.inc({ check: 'recheck', outcome: RECHECK_OUTCOMES[outcome] });
    const updated = await this.tags.recordRecheck(tag.partnerId, tag.id, outcome, this.options.failuresToDisconnect ?? 3);
    if (updated && !updated.isConnected) {
      summary.disconnected++;
      this.log.warn({ tagId: tag.id, trackingHost: tag.trackingHost }, 'tag disconnected: its CNAME failed three re-checks in a row');
    }
  }
}
