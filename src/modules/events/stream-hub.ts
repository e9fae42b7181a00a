import type { FastifyBaseLogger } from 'fastify';
import type { EventRow } from '../../db/schema/index.js';
import type { EventBus } from './event-bus.js';
import type { EventFilters, EventsRepository } from './repository.js';

/** A live stream as the hub sees it: whose it is, what it wants, where to hand events. */
export interface StreamSubscriber {
  partnerId: string;
  filters: EventFilters;
  deliver(event: EventRow): void;
  close(reason: string): void;
}

export interface StreamHubOptions {
  /** Open streams per partner in this process. */
  maxStreamsPerPartner: number;
  /** A read even without a notification, in case one was lost. */
  pollIntervalMs: number;
}

export const DEFAULT_HUB_OPTIONS: StreamHubOptions = { maxStreamsPerPartner: 20, pollIntervalMs: 5000 };

const READ_CHUNK = 1000;

export function matches(filters: EventFilters, partnerId: string, subscriberPartner: string, event: EventRow): boolean {
  return (
    partnerId === subscriberPartner &&
    (filters.merchantId === undefined || filters.merchantId === event.merchantId) &&
    (filters.tagId === undefined || filters.tagId === event.tagId) &&
    (filters.types === undefined || filters.types.includes(event.type))
  );
}

/** A notified event held back by an older open transaction is looked for again after this, doubling… */
const RETRY_FIRST_MS = 5;
/** …up to this. */
const RETRY_MAX_MS = 500;

/**
 * One reader of new events per process, however many streams: woken by the event bus (and by a
 * slow poll), it reads every event after the last one it read and below the commit watermark
 * (`EventsRepository.horizon`), in id order, and hands each to the streams of that event's partner
 * whose filters match. Below the watermark no row can still commit, so "after the last id read"
 * never skips one, with writers in any number of processes and no lock between them. A notified
 * event above the watermark (an older transaction of another writer still open) is read again
 * shortly, with backoff, rather than waiting for the next notification.
 */
export class StreamHub {
  private readonly subscribers = new Set<StreamSubscriber>();
  private lastId: bigint | undefined;
  private reading: Promise<void> | undefined;
  private again = false;
  private unsubscribe: (() => void) | undefined;
  private poll: NodeJS.Timeout | undefined;
  private starting: Promise<void> | undefined;
  private resuming: Promise<void> | undefined;
  /** The highest id announced by the bus (a reconnect's -1n raises nothing: it only wakes the hub). */
  private announced = 0n;
  private retry: NodeJS.Timeout | undefined;
  private retryMs = RETRY_FIRST_MS;

  constructor(
    private readonly events: EventsRepository,
    private readonly bus: EventBus,
    private readonly log: FastifyBaseLogger,
    private readonly options: StreamHubOptions = DEFAULT_HUB_OPTIONS,
  ) {}

  /** Live streams open in this process, every partner's. */
  get size(): number {
    return this.subscribers.size;
  }

  openStreams(partnerId: string): number {
    let count = 0;
    for (const subscriber of this.subscribers) if (subscriber.partnerId === partnerId) count++;
    return count;
  }

  canOpen(partnerId: string): boolean {
    return this.openStreams(partnerId) < this.options.maxStreamsPerPartner;
  }

  /**
   * Adds a stream; live events after the returned id will reach it, and every event up to it is
   * below a watermark read before this returns (so a replay whose watermark is read afterwards
   * covers them).
   */
  async add(subscriber: StreamSubscriber): Promise<bigint> {
    // A hub that started before and has no stream open has read nothing since: its position is stale.
    const idle = this.subscribers.size === 0 && this.starting !== undefined;
    this.subscribers.add(subscriber);
    // A failed start (database outage) is forgotten, so the next stream tries again instead of
    // inheriting the rejection until the process restarts.
    this.starting ??= this.start().catch((error: unknown) => {
      this.starting = undefined;
      throw error;
    });
    await this.starting;
    // Every stream added while the position is brought forward waits for it, not only the one
    // that found the hub idle: one returned the stale position meanwhile could read its replay's
    // watermark before the one the hub jumps to, and lose the events in between.
    if (idle) this.resuming ??= this.resume().finally(() => (this.resuming = undefined));
    if (this.resuming) await this.resuming;
    return this.lastId ?? 0n;
  }

  /** Live starts again at the watermark (a first start has just read it). */
  private async resume(): Promise<void> {
    const now = (await this.events.horizon()) - 1n;
    if (this.lastId !== undefined && now > this.lastId) this.lastId = now;
  }

  remove(subscriber: StreamSubscriber): void {
    this.subscribers.delete(subscriber);
  }

  /** Ends every stream with a final message (shutdown), and stops listening. */
  async close(reason: string): Promise<void> {
    for (const subscriber of this.subscribers) subscriber.close(reason);
    this.subscribers.clear();
    clearInterval(this.poll);
    clearTimeout(this.retry);
    this.unsubscribe?.();
    await this.reading?.catch(() => undefined);
    await this.bus.close();
  }

  private async start(): Promise<void> {
    this.lastId = (await this.events.horizon()) - 1n;
    this.unsubscribe = this.bus.subscribe((maxId) => {
      if (maxId > this.announced) this.announced = maxId;
      this.wake();
    });
    this.poll = setInterval(() => this.wake(), this.options.pollIntervalMs);
    this.poll.unref();
  }

  wake(): void {
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = this.readNew()
      .catch((error: unknown) => this.log.warn({ err: error }, 'stream hub read failed; will read again'))
      .finally(() => {
        this.reading = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async readNew(): Promise<void> {
    if (this.subscribers.size === 0 || this.lastId === undefined) return;
    const before = await this.events.horizon();
    for (;;) {
      const rows = await this.events.newSince(this.lastId, before, READ_CHUNK);
      for (const row of rows) {
        for (const subscriber of this.subscribers) {
          if (matches(subscriber.filters, row.partnerId, subscriber.partnerId, row)) subscriber.deliver(row);
        }
        this.lastId = row.id;
      }
      if (rows.length < READ_CHUNK) break;
    }
    // Announced but not yet below the watermark: another writer's older transaction is still open.
    if (this.announced >= before) this.retryLater();
    else this.retryMs = RETRY_FIRST_MS;
  }

  private retryLater(): void {
    if (this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.wake();
    }, this.retryMs);
    this.retry.unref();
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }
}
