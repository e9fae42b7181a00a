import type { FastifyBaseLogger } from 'fastify';
import { BufferedCounts, type BufferedCountsOptions } from '../../lib/buffered-counts.js';
import type { IgnoreReason } from '../../db/schema/index.js';
import type { CollectRepository, IgnoredCount } from './repository.js';

/** Distinct (tag, reason) pairs are the entries. */
export type IgnoredEventsOptions = BufferedCountsOptions;

export const DEFAULT_IGNORED_OPTIONS: IgnoredEventsOptions = { flushIntervalMs: 5000, maxEntries: 10_000 };

/**
 * Counts the events the collector answers without storing (bots), per tag and reason, for the
 * tag's diagnostics. A bot flood must not become a write per request: counts add up in memory and
 * reach the database in one upsert every `flushIntervalMs` and at close. The price is that a crash
 * loses the counts of the last few seconds, which diagnostics can afford; a failed flush keeps its
 * counts for the next one.
 */
export class IgnoredEventsCounter extends BufferedCounts<IgnoredCount> {
  constructor(
    private readonly repository: CollectRepository,
    private readonly log: FastifyBaseLogger,
    options: IgnoredEventsOptions = DEFAULT_IGNORED_OPTIONS,
  ) {
    super(options);
  }

  add(tagId: string, reason: IgnoreReason, events: number, at: Date): void {
    const key = `${tagId} ${reason}`;
    this.gather(key, events, at, () => ({ tagId, reason, events, lastAt: at }));
  }

  protected amountOf(count: IgnoredCount): number {
    return count.events;
  }

  protected addTo(count: IgnoredCount, amount: number): void {
    count.events += amount;
  }

  protected async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.take();
    try {
      await this.repository.addIgnored([...batch.values()]);
    } catch (error) {
      this.log.warn({ err: error, counts: batch.size }, 'ignored-event counts not written: kept for the next flush');
      this.keep(batch);
      this.schedule();
    }
  }
}
