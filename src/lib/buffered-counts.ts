export interface BufferedCountsOptions {
  /** Counts reach the database this long after the first one since the last flush. */
  flushIntervalMs: number;
  /** Distinct keys that make a flush start at once; twice as many are held at most (the database being down). */
  maxEntries: number;
}

/**
 * Counts gathered in memory by key and written in one statement every few seconds, never a write
 * per request: the shared mechanism of the collector's counters. Flushes run one after the other;
 * a failed one keeps its counts (see keep) for the next. Subclasses say how a count adds up and
 * how a batch is written.
 */
export abstract class BufferedCounts<T extends { lastAt: Date }> {
  protected pending = new Map<string, T>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private writing = false;
  private closed = false;

  constructor(protected readonly options: BufferedCountsOptions) {}

  /** The amount a count holds, and how another amount is added to it. */
  protected abstract amountOf(count: T): number;
  protected abstract addTo(count: T, amount: number): void;
  /** Writes what `pending` holds (taking it with `take`), keeping what failed; called by flush only. */
  protected abstract write(): Promise<void>;

  /** Adds `amount` under `key`, or the count `create` makes when the key is new. */
  protected gather(key: string, amount: number, at: Date, create: () => T): void {
    const known = this.pending.get(key);
    if (known) {
      this.addTo(known, amount);
      if (at > known.lastAt) known.lastAt = at;
    } else if (this.pending.size < 2 * this.options.maxEntries) {
      this.pending.set(key, create());
    }
    if (this.pending.size >= this.options.maxEntries && !this.writing) void this.flush();
    else this.schedule();
  }

  /** What is pending, for a write; counts gathered meanwhile start afresh. */
  protected take(): Map<string, T> {
    const batch = this.pending;
    this.pending = new Map();
    return batch;
  }

  /** Counts a failed write did not store, merged with those gathered meanwhile. */
  protected keep(batch: Map<string, T>): void {
    for (const [key, count] of batch) {
      const newer = this.pending.get(key);
      if (newer) {
        this.addTo(count, this.amountOf(newer));
        if (newer.lastAt > count.lastAt) count.lastAt = newer.lastAt;
      }
      this.pending.set(key, count);
    }
  }

  protected schedule(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = setTimeout(() => void this.flush(), this.options.flushIntervalMs);
    // Counts alone never keep the process alive: close() flushes what is left.
    this.timer.unref();
  }

  /** Writes every count gathered so far; flushes run one after the other. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing = this.flushing.then(async () => {
      this.writing = true;
      try {
        await this.write();
      } finally {
        this.writing = false;
      }
    });
    return this.flushing;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }
}
