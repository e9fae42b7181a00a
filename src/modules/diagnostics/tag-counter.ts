import type { FastifyBaseLogger } from 'fastify';
import type { DiagnosticsRepository, TagActivity, TagCount } from './repository.js';

export interface TagCounterOptions {
  /** Counts reach the database this long after the first one since the last flush. */
  flushIntervalMs: number;
  /** Distinct (tag, hour, outcome) counts that make a flush start at once; twice as many are held at most. */
  maxEntries: number;
}

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
export class TagCounter {
  private pending = new Map<string, TagCount>();
  private activity = new Map<string, TagActivity>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private writing = false;
  private closed = false;
  private prunedAt = 0;

  constructor(
    private readonly repository: DiagnosticsRepository,
    private readonly log: FastifyBaseLogger,
    private readonly options: TagCounterOptions = DEFAULT_TAG_COUNTER_OPTIONS,
  ) {}

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
    const hour = new Date(Math.floor(at.getTime() / HOUR_MS) * HOUR_MS);
    const key = `${tagId} ${hour.getTime()} ${outcome}`;
    const known = this.pending.get(key);
    if (known) {
      known.count += events;
      if (at > known.lastAt) known.lastAt = at;
    } else if (this.pending.size < 2 * this.options.maxEntries) {
      this.pending.set(key, { tagId, hour, outcome, count: events, lastAt: at });
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

  /** Counts a failed flush did not write, merged with those gathered meanwhile. */
  private keep(batch: Map<string, TagCount>): void {
    for (const [key, count] of batch) {
      const newer = this.pending.get(key);
      this.pending.set(key, newer ? { ...count, count: count.count + newer.count, lastAt: newer.lastAt > count.lastAt ? newer.lastAt : count.lastAt } : count);
    }
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0 && this.activity.size === 0) return;
    const batch = this.pending;
    const activity = this.activity;
    this.pending = new Map();
    this.activity = new Map();
    this.writing = true;
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
    } finally {
      this.writing = false;
    }
  }
}
