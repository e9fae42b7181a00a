import type { FastifyBaseLogger } from 'fastify';
import type { MarktagRow } from '../../db/schema/index.js';
import { DnsUnavailableError, type DnsResolver } from './dns-resolver.js';
import { verifyDns } from './dns-verifier.js';
import type { Metrics } from '../metrics/metrics.js';
import type { MarktagsRepository, RecheckDue } from './repository.js';

export interface ReverifierOptions {
  /** How often each live custom tag is re-checked: every tag is checked within this time of its last check. */
  intervalMs: number;
  dnsTimeoutMs: number;
  /** DNS checks in flight at once. */
  concurrency?: number;
  /** Consecutive definite failures that disconnect a tag. */
  failuresToDisconnect?: number;
  /** Tags claimed per statement; the pass claims page after page until none is due. */
  pageSize?: number;
  /** Confines the background runs to one partner's tags (tests sharing a database). */
  partnerId?: string;
}

export interface RecheckSummary {
  checked: number;
  passed: number;
  failed: number;
  inconclusive: number;
  disconnected: number;
}

/**
 * A tag falls due between 75% and 95% of the interval after its last check (the share is fixed
 * by its id), so tags verified together spread out instead of all falling due at one moment, and
 * the remaining 5% leaves room for the tick and the queue.
 */
const DUE_AT = 0.95;
const DUE_SPREAD = 0.2;
/** How often the background looks for due tags, as a share of the interval (bounded below). */
const TICK_SHARE = 1 / 40;
const MIN_TICK_MS = 50;
const MAX_TICK_MS = 60_000;

const emptySummary = (): RecheckSummary => ({ checked: 0, passed: 0, failed: 0, inconclusive: 0, disconnected: 0 });
const RECHECK_OUTCOMES = { passed: 'verified', failed: 'failed', inconclusive: 'unavailable' } as const;

/**
 * Re-checks verified custom tags in the background: the CNAME of the host that matched must still
 * reach the target. A definite failure (record gone or pointing elsewhere) counts; a resolver
 * outage does not. Three consecutive failures disconnect the tag; a successful verify restores it.
 *
 * Every tick claims the due tags page by page (each claim one short statement that marks them
 * checked, so processes share the work without a lock and none checks a tag twice), and checks
 * them with bounded concurrency. No database connection is held while DNS answers. A tag claimed
 * by a process that stops before checking it waits for its next interval.
 */
export class Reverifier {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RecheckSummary> | undefined;
  private stopped = false;

  constructor(
    private readonly tags: MarktagsRepository,
    private readonly dns: DnsResolver,
    private readonly options: ReverifierOptions,
    private readonly log: FastifyBaseLogger,
    private readonly metrics?: Metrics,
  ) {}

  /** Verified custom tags due for a re-check now: the work the next runs have ahead of them. */
  async backlog(): Promise<number> {
    return this.tags.countDueForRecheck({ afterMs: this.options.intervalMs * DUE_AT, spread: DUE_SPREAD });
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

  /** One pass over the tags due. `partnerId` confines it to one partner's tags; `dueAfterMs` replaces the spread interval. */
  async runOnce(scope: { partnerId?: string; dueAfterMs?: number } = {}): Promise<RecheckSummary> {
    // Passes in this process never overlap; claims keep other processes off the same tags.
    this.running ??= this.pass(scope).finally(() => (this.running = undefined));
    return this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    const tick = Math.min(MAX_TICK_MS, Math.max(MIN_TICK_MS, this.options.intervalMs * TICK_SHARE));
    this.timer = setTimeout(() => {
      const scope = this.options.partnerId === undefined ? {} : { partnerId: this.options.partnerId };
      this.runOnce(scope)
        .then((summary) => {
          if (summary.checked > 0) this.log.info({ recheck: summary }, 're-verified tags');
        })
        .catch((error: unknown) => this.log.warn({ err: error }, 're-verification failed; will try again'))
        .finally(() => this.schedule());
    }, tick);
    this.timer.unref();
  }

  private async pass(scope: { partnerId?: string; dueAfterMs?: number }): Promise<RecheckSummary> {
    const summary = emptySummary();
    const due: RecheckDue = {
      afterMs: scope.dueAfterMs ?? this.options.intervalMs * DUE_AT,
      spread: scope.dueAfterMs === undefined ? DUE_SPREAD : 0,
      notCheckedSince: await this.tags.databaseNow(),
    };
    const pageSize = this.options.pageSize ?? 200;
    const concurrency = this.options.concurrency ?? 16;
    while (!this.stopped) {
      const page = await this.tags.claimDueForRecheck(due, pageSize, scope.partnerId);
      const queue = [...page];
      const worker = async () => {
        for (let tag = queue.shift(); tag && !this.stopped; tag = queue.shift()) await this.check(tag, summary);
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
      if (page.length < pageSize) break;
    }
    return summary;
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
