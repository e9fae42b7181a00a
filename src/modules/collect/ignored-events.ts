import type { FastifyBaseLogger } from 'fastify';
import type { IgnoreReason } from '../../db/schema/index.js';
import type { CollectRepository, IgnoredCount } from './repository.js';

export interface IgnoredEventsOptions {
  /** Counts are added to the database this long after the first one since the last flush. */
  flushIntervalMs: number;
  /** Distinct (tag, reason) pairs that make a flush start at once; twice as many are held at most (the database being down). */
  maxEntries: number;
}

export const DEFAULT_IGNORED_OPTIONS: IgnoredEventsOptions = { flushIntervalMs: 5000, maxEntries: 10_000 };

/**
 * Counts the events the collector answers without storing (bots), per tag and reason, for the
 * tag's diagnostics. A bot flood must not become a write per request: counts add up in memory and
 * reach the database in one upsert every `flushIntervalMs` and at close. The price is that a crash
 * loses the counts of the last few seconds, which diagnostics can afford; a failed flush keeps its
 * counts for the next one.
 */
export class IgnoredEventsCounter {
  private pending = new Map<string, IgnoredCount>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private writing = false;
  private closed = false;

  constructor(
    private readonly repository: CollectRepository,
    private readonly log: FastifyBaseLogger,
    private readonly options: IgnoredEventsOptions = DEFAULT_IGNORED_OPTIONS,
  ) {}

  add(tagId: string, reason: IgnoreReason, events: number, at: Date): void {
    const key = `${tagId} ${reason}`;
    const known = this.pending.get(key);
    if (known) {
      known.events += events;
      if (at > known.lastAt) known.lastAt = at;
    } else if (this.pending.size < 2 * this.options.maxEntries) {
      this.pending.set(key, { tagId, reason, events, lastAt: at });
    }
    if (this.pending.size >= this.options.maxEntries && !this.writing) void this.flush();
    else this.schedule();
  }

  private schedule(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = setTimeout(() => void this.flush(), this.options.flushIntervalMs);
    // Counts alone never keep the process alive: close() flushes what is left.
    this.timer.unref();
  }

  /** Writes every count gathered so far; flushes run one after the other. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    this.writing = true;
    try {
      await this.repository.addIgnored([...batch.values()]);
    } catch (error) {
      this.log.warn({ err: error, counts: batch.size }, 'ignored-event counts not written: kept for the next flush');
      for (const [key, count] of batch) {
        const newer = this.pending.get(key);
        this.pending.set(key, newer ? { ...count, events: count.events + newer.events, lastAt: newer.lastAt > count.lastAt ? newer.lastAt : count.lastAt } : count);
      }
      this.schedule();
    } finally {
      this.writing = false;
    }
  }
}
