import type { FastifyBaseLogger } from 'fastify';
import { BufferedCounts, type BufferedCountsOptions } from '../../lib/buffered-counts.js';
import type { DiagnosticsRepository, TagActivity, TagCount } from './repository.js';

/** Distinct (tag, hour, outcome) counts are the entries. */
export type TagCounterOptions = BufferedCountsOptions;

export const DEFAULT_TAG_COUNTER_OPTIONS: TagCounterOptions = { flushIntervalMs: 5000, maxEntries: 10_000 };

const HOUR_MS = 3_600_000;
/** Hours kept: the 24 the diagnostics read, and a day of margin. */
const KEPT_MS = 48 * HOUR_MS;

export type EventSource = 'browser' | 'server';

/**
 * What happened to each tag's events, by hour, for its diagnostics: counted in memory and added to
 * the database in one upsert every few seconds (never a write per request), so the counts of all
 * processes sum there at most a few seconds late. A crash loses the last seconds of counts, which
 * diagnostics can afford; a failed flush keeps its counts for the next one.
 */
export class TagCounter extends BufferedCounts<TagCount> {
  private activity = new Map<string, TagActivity>();
  private prunedAt = 0;

  constructor(
    private readonly repository: DiagnosticsRepository,
    private readonly log: FastifyBaseLogger,
    options: TagCounterOptions = DEFAULT_TAG_COUNTER_OPTIONS,
  ) {
    super(options);
  }

  /** Events stored: `accepted` counts them by source, `duplicates` those already stored. */
  stored(tagId: string, source: EventSource, accepted: number, duplicates: number, at: Date): void {
    if (accepted > duplicates) {
      this.add(tagId, 'accepted', accepted - duplicates, at);
      const known = this.activity.get(tagId) ?? { lastBrowserEventAt: null, lastServerEventAt: null };
      if (source === 'browser') known.lastBrowserEventAt = at;
      else known.lastServerEventAt = at;
      this.activity.set(tagId, known);
    }
    if (duplicates > 0) this.add(tagId, 'duplicates', duplicates, at);
  }

  /** Events answered without being stored (`ignored:bot`) or refused (`rejected:<error code>`). */
  add(tagId: string, outcome: string, events: number, at: Date): void {
    if (events <= 0) return;
    const hour = Math.floor(at.getTime() / HOUR_MS) * HOUR_MS;
    this.gather(`${tagId} ${hour} ${outcome}`, events, at, () => ({ tagId, hour: new Date(hour), outcome, count: events, lastAt: at }));
  }

  protected amountOf(count: TagCount): number {
    return count.count;
  }

  protected addTo(count: TagCount, amount: number): void {
    count.count += amount;
  }

  protected async write(): Promise<void> {
    if (this.pending.size === 0 && this.activity.size === 0) return;
    const batch = this.take();
    const activity = this.activity;
    this.activity = new Map();
    try {
      // Apart, so that a failure of one never writes the other twice.
      try {
        await this.repository.add([...batch.values()]);
      } catch (error) {
        this.keep(batch);
        throw error;
      }
      try {
        await this.repository.touch(activity);
      } catch (error) {
        for (const [tagId, seen] of activity) if (!this.activity.has(tagId)) this.activity.set(tagId, seen);
        throw error;
      }
      const now = Date.now();
      if (now - this.prunedAt >= HOUR_MS) {
        this.prunedAt = now;
        await this.repository.prune(new Date(now - KEPT_MS));
      }
    } catch (error) {
      this.log.warn({ err: error, counts: batch.size }, 'tag diagnostics counts not written: kept for the next flush');
      this.schedule();
    }
  }
}
