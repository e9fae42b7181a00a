import type { Redis } from 'ioredis';

export interface WindowCount {
  /** Hits of the key in the current window, this one included (as far as this process knows). */
  count: number;
  /** Milliseconds until the window ends and the count starts again. */
  resetInMs: number;
}

export interface WindowCounterOptions {
  windowMs: number;
  /** Shares the counts between processes; this process's alone when absent. */
  redis?: Redis | undefined;
  /** Prefix of the shared keys. */
  nameSpace: string;
  /** How often hits are sent to Redis and the others' read back. */
  syncMs?: number;
  /** Called when Redis cannot be reached: counting goes on in this process alone meanwhile. */
  onSyncError?: (error: unknown) => void;
}

interface Entry {
  /** Hits known to be in the window: this process's sent ones and everyone's read back. */
  shared: number;
  /** This process's hits not yet sent. */
  unsent: number;
}

/**
 * Hits per key in fixed windows aligned to the clock (every process agrees where a window starts).
 * Counting costs a map look-up: with Redis, hits are sent in one pipeline every `syncMs`
 * (INCRBY per key, which answers the total of every process), so a request never waits for Redis.
 * The price is that a key may go over its limit by what the other processes admitted since the
 * last sync (a process learns the others' total for a key when it sends hits of its own for it);
 * a limit that only has to stop a flood allows that. Redis being down means counting
 * in this process alone (fail open), never an error.
 */
export class WindowCounter {
  private window = -1;
  private entries = new Map<string, Entry>();
  private readonly timer: NodeJS.Timeout | undefined;
  private syncing = false;

  constructor(private readonly options: WindowCounterOptions) {
    if (options.redis) {
      this.timer = setInterval(() => void this.sync(), options.syncMs ?? 100);
      this.timer.unref();
    }
  }

  hit(key: string, now = Date.now()): WindowCount {
    this.roll(now);
    let entry = this.entries.get(key);
    if (entry === undefined) {
      entry = { shared: 0, unsent: 0 };
      this.entries.set(key, entry);
    }
    if (this.options.redis) entry.unsent++;
    else entry.shared++;
    return { count: entry.shared + entry.unsent, resetInMs: (this.window + 1) * this.options.windowMs - now };
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** A new window starts from nothing; the old one's keys go (the map never outgrows one window's keys). */
  private roll(now: number): void {
    const window = Math.floor(now / this.options.windowMs);
    if (window === this.window) return;
    this.window = window;
    this.entries = new Map();
  }

  /** Sends this process's hits and reads back every process's totals for the keys it has seen. */
  async sync(): Promise<void> {
    const redis = this.options.redis;
    if (!redis || this.syncing || redis.status !== 'ready') return;
    this.roll(Date.now());
    const window = this.window;
    const entries = this.entries;
    const pipeline = redis.pipeline();
    const ttlMs = this.options.windowMs * 2;
    const sent: Entry[] = [];
    for (const [key, entry] of entries) {
      if (entry.unsent === 0) continue;
      const shared = `${this.options.nameSpace}${window}:${key}`;
      pipeline.incrby(shared, entry.unsent).pexpire(shared, ttlMs);
      // Counted as sent now: should the sync fail, they still count here (fail open, not forgotten).
      entry.shared += entry.unsent;
      entry.unsent = 0;
      sent.push(entry);
    }
    if (sent.length === 0) return;
    this.syncing = true;
    try {
      const results = (await pipeline.exec()) ?? [];
      // A window that ended meanwhile is gone; its totals mean nothing now.
      if (this.window !== window || this.entries !== entries) return;
      sent.forEach((entry, index) => {
        const [error, total] = results[index * 2] ?? [];
        if (!error && typeof total === 'number') entry.shared = Math.max(entry.shared, total);
      });
    } catch (error) {
      this.options.onSyncError?.(error);
    } finally {
      this.syncing = false;
    }
  }
}
