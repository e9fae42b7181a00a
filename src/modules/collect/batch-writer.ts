import type { FastifyBaseLogger } from 'fastify';
import { ApiError } from '../../errors.js';
import type { EventBus } from '../events/event-bus.js';
import type { Metrics } from '../metrics/metrics.js';
import { eventKey, firstOfEachKey, type CollectRepository, type EventRecord } from './repository.js';

export interface WriteOutcome {
  accepted: number;
  duplicates: number;
}

export interface BatchWriterOptions {
  /** Events in one flush at most; more waiting go in the next flushes. */
  maxBatch: number;
  /** Events waiting at most; beyond it the collector answers 503 at once instead of growing memory. */
  maxQueued: number;
  /**
   * Request bytes waiting at most (as received, per request): 64 KiB events count as what they
   * weigh, not as one each. Beyond it the collector answers 503 at once, as for `maxQueued`.
   */
  maxQueuedBytes: number;
  /** A tag's lastEventAt is written at most this often by this process. */
  touchIntervalMs: number;
  /**
   * Flushes written at once (natural batching, as PostgreSQL's group commit): events arriving
   * while fewer are in flight are flushed at once, with no timer; once this many are in flight,
   * arrivals wait together and the next flush takes them all as soon as one commits. Each flush
   * holds one pool connection while it runs.
   */
  maxInFlight: number;
  /**
   * Events waiting before a flush starts beside one in flight. A statement costs the database about
   * as much as a few dozen of the events in it, so small flushes side by side are dearer than one
   * that waits a commit and takes them all; parallel flushes pay when the backlog is large.
   */
  minParallelBatch: number;
}

export const DEFAULT_BATCH_OPTIONS: BatchWriterOptions = {
  maxBatch: 1000,
  maxQueued: 50_000,
  maxQueuedBytes: 32 * 1024 * 1024,
  touchIntervalMs: 60_000,
  maxInFlight: 2,
  minParallelBatch: 100,
};

interface Pending {
  rows: EventRecord[];
  /** Tags waiting for their first event: touched whatever the throttle says, to become active. */
  wake: string[];
  /** What the request weighed: released from the byte bound once its flush is over. */
  bytes: number;
  resolve: (outcome: WriteOutcome) => void;
  reject: (error: unknown) => void;
}

export const RETRY_AFTER_WRITE_FAILURE_SECONDS = '2';

/**
 * Group commit: events from concurrent requests go into one multi-row insert per flush, one
 * statement and one commit, and each request is answered only after the statement holding its
 * events has committed. A failed flush fails every request in it (503): nothing is acknowledged
 * unstored.
 *
 * Batching is natural, with no timer: a write is flushed as soon as the I/O turn that brought it
 * is over (so the requests parsed in that turn go together) when no flush is in flight, or fewer
 * than `maxInFlight` are and `minParallelBatch` events wait; otherwise it waits, and the next
 * flush takes everything waiting the moment one commits. Under light load a request is written
 * alone at once; under heavy load batches grow by themselves with the time a commit takes.
 */
export class BatchWriter {
  private queue: Pending[] = [];
  /** Events waiting or being written, and the bytes of their requests: the bounds. */
  private queued = 0;
  private queuedBytes = 0;
  /** Events waiting, not yet taken by a flush. */
  private waiting = 0;
  /** A flush is due at the end of this I/O turn. */
  private scheduled = false;
  private readonly flushing = new Set<Promise<void>>();
  private readonly touched = new Map<string, number>();
  private closed = false;
  /** Flushes and events written since start: how well group commit groups. */
  readonly stats = { flushes: 0, events: 0, failures: 0 };

  constructor(
    private readonly repository: CollectRepository,
    private readonly log: FastifyBaseLogger,
    private readonly bus: EventBus,
    private readonly options: BatchWriterOptions = DEFAULT_BATCH_OPTIONS,
    private readonly metrics?: Metrics,
  ) {}

  /**
   * Resolves once the rows are committed (or were already stored); rejects with a 503 otherwise.
   * `bytes` is the size of the request that carried them.
   */
  write(rows: EventRecord[], wake: string[] = [], bytes = 0): Promise<WriteOutcome> {
    if (this.closed) return Promise.reject(unavailable('The collector is shutting down; retry shortly'));
    if (this.queued + rows.length > this.options.maxQueued || this.queuedBytes + bytes > this.options.maxQueuedBytes) {
      return Promise.reject(unavailable('The collector is over capacity; retry shortly'));
    }
    return new Promise<WriteOutcome>((resolve, reject) => {
      this.queue.push({ rows, wake, bytes, resolve, reject });
      this.queued += rows.length;
      this.queuedBytes += bytes;
      this.waiting += rows.length;
      this.schedule();
    });
  }

  /** Events waiting or being written: what a graceful shutdown waits for. */
  get backlog(): number {
    return this.queued;
  }

  /** Writes everything queued, then refuses new writes. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.queue.length > 0 || this.flushing.size > 0) {
      this.kick();
      await Promise.race(this.flushing);
    }
  }

  /** A flush at the end of this I/O turn, unless one is due already or no slot is free (then the next commit takes the queue). */
  private schedule(): void {
    if (this.scheduled || !this.slotFree()) return;
    this.scheduled = true;
    setImmediate(this.kickScheduled);
  }

  private readonly kickScheduled = (): void => {
    this.scheduled = false;
    this.kick();
  };

  /** Starts flushes while events wait and slots are free: each takes what waits, up to maxBatch. */
  private kick(): void {
    while (this.queue.length > 0 && this.slotFree()) {
      const flush: Promise<void> = this.flush().finally(() => {
        this.flushing.delete(flush);
        // What gathered while this one was committing goes now: natural batching.
        this.kick();
      });
      this.flushing.add(flush);
    }
  }

  /** A flush may start now: none is in flight, or another is allowed and enough events wait for it. */
  private slotFree(): boolean {
    const inFlight = this.flushing.size;
    return inFlight === 0 || (inFlight < this.options.maxInFlight && this.waiting >= this.options.minParallelBatch);
  }

  private takeBatch(): Pending[] {
    let count = 0;
    let size = 0;
    for (const pending of this.queue) {
      if (count > 0 && size + pending.rows.length > this.options.maxBatch) break;
      count++;
      size += pending.rows.length;
    }
    this.waiting -= size;
    return this.queue.splice(0, count);
  }

  private async flush(): Promise<void> {
    const batch = this.takeBatch();
    const count = batch.reduce((sum, pending) => sum + pending.rows.length, 0);
    const bytes = batch.reduce((sum, pending) => sum + pending.bytes, 0);
    const unique = firstOfEachKey(batch.flatMap((pending) => pending.rows));
    const now = Date.now();
    const waking = new Set(batch.flatMap((pending) => pending.wake));
    // Server events never change a tag's state: only what browsers send touches it.
    const toTouch = [...new Set(unique.filter((row) => row.source === 'browser').map((row) => row.tagId))].filter(
      (tagId) => waking.has(tagId) || now - (this.touched.get(tagId) ?? 0) >= this.options.touchIntervalMs,
    );
    const started = performance.now();
    try {
      const { skipped, maxId } = await this.repository.writeBatch(unique, toTouch);
      this.metrics?.batchEvents.observe(count);
      this.metrics?.batchCommitDuration.observe({ result: 'committed' }, (performance.now() - started) / 1000);
      if (maxId > 0n) this.bus.committed(maxId);
      for (const tagId of toTouch) this.touched.set(tagId, now);
      this.stats.flushes++;
      this.stats.events += count;
      const claimed = new Set<string>();
      for (const pending of batch) {
        let duplicates = 0;
        for (const row of pending.rows) {
          const key = eventKey(row.tagId, row.eventId);
          if (!skipped.has(key) && !claimed.has(key)) claimed.add(key);
          else duplicates++;
        }
        pending.resolve({ accepted: pending.rows.length, duplicates });
      }
    } catch (error) {
      this.log.error({ err: error, events: count, requests: batch.length }, 'event batch write failed; no event of it was acknowledged');
      this.stats.failures++;
      this.metrics?.batchCommitDuration.observe({ result: 'failed' }, (performance.now() - started) / 1000);
      const refusal = unavailable('The events could not be stored; retry shortly');
      for (const pending of batch) pending.reject(refusal);
    } finally {
      this.queued -= count;
      this.queuedBytes -= bytes;
    }
  }
}

function unavailable(message: string): ApiError {
  return new ApiError(503, 'SERVICE_UNAVAILABLE', message, undefined, { 'retry-after': RETRY_AFTER_WRITE_FAILURE_SECONDS });
}
