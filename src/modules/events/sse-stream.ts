import type { ServerResponse } from 'node:http';
import type { EventRow } from '../../db/schema/index.js';
import { RETRY_AFTER_SECONDS } from '../../errors.js';
import type { EventFilters, EventsRepository } from './repository.js';
import { toApiEvent } from './service.js';
import type { StreamHub, StreamSubscriber } from './stream-hub.js';

export interface SseOptions {
  heartbeatMs: number;
  /** Bytes the socket may hold unsent before the stream is cut off as a slow consumer. */
  maxBufferedBytes: number;
  /** Live events held while a replay runs; past it the stream replays again instead. */
  maxPending: number;
}

export const DEFAULT_SSE_OPTIONS: SseOptions = { heartbeatMs: 15_000, maxBufferedBytes: 1024 * 1024, maxPending: 5000 };

const REPLAY_CHUNK = 500;

/**
 * The last message of a stream that cannot start or go on (the database is unreachable): when to
 * reconnect, then why. A standard EventSource reconnects by itself after `retryMs` with its
 * Last-Event-ID, and resumes where it stopped. It carries no data, so it may be sent before the
 * caller is known.
 */
export function unavailableMessage(retryMs: number): string {
  const reason = 'temporarily unavailable: reconnect with Last-Event-ID';
  return `retry: ${retryMs}\nevent: error\ndata: ${JSON.stringify({ code: 'SERVICE_UNAVAILABLE', reason })}\n\n`;
}

/** How long a client waits before reconnecting after an outage message: the Retry-After of every other 503. */
export const OUTAGE_RETRY_MS = RETRY_AFTER_SECONDS * 1000;

function message(row: EventRow): string {
  return `id: ${row.id.toString()}\nevent: event\ndata: ${JSON.stringify(toApiEvent(row))}\n\n`;
}

/**
 * One Server-Sent Events connection. On (re)connect it first replays every matching event after
 * Last-Event-ID from the database, then follows the hub; ids only ever increase, so an event is
 * never sent twice and, the hub reading in id order, never skipped.
 */
export class SseStream implements StreamSubscriber {
  private lastSent = 0n;
  private replaying = true;
  private pending: EventRow[] = [];
  private overflowed = false;
  private closed = false;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    readonly partnerId: string,
    readonly filters: EventFilters,
    private readonly response: ServerResponse,
    private readonly hub: StreamHub,
    private readonly events: EventsRepository,
    private readonly options: SseOptions = DEFAULT_SSE_OPTIONS,
  ) {
    // Cleanup is attached before anything asynchronous happens.
    response.on('close', () => this.dispose());
    response.on('error', () => this.dispose());
  }

  async open(lastEventId: bigint | undefined): Promise<void> {
    // Connected is said once the hub knows where this stream's live events start: an event
    // committed after the client reads it reaches the stream, with or without Last-Event-ID.
    const live = await this.hub.add(this);
    if (this.closed) return;
    this.write(': connected\nretry: 3000\n\n');
    this.heartbeat = setInterval(() => this.write(': heartbeat\n\n'), this.options.heartbeatMs);
    this.heartbeat.unref();
    this.lastSent = lastEventId ?? live;
    if (lastEventId !== undefined) await this.replay();
    // Whatever the hub handed over meanwhile, in order; a replay again if too much came.
    while (!this.closed && (this.pending.length > 0 || this.overflowed)) {
      if (this.overflowed) {
        this.overflowed = false;
        this.pending = [];
        await this.replay();
        continue;
      }
      const held = this.pending;
      this.pending = [];
      for (const row of held) this.send(row);
    }
    this.replaying = false;
  }

  deliver(row: EventRow): void {
    if (this.closed) return;
    if (this.replaying) {
      if (this.pending.length >= this.options.maxPending) this.overflowed = true;
      else this.pending.push(row);
      return;
    }
    this.send(row);
  }

  close(reason: string): void {
    if (this.closed) return;
    this.write(`event: close\ndata: ${JSON.stringify({ reason })}\n\n`);
    this.response.end();
    this.dispose();
  }

  /** The stream cannot go on (the database went away while replaying): say so, and end; the client reconnects. */
  fail(): void {
    if (this.closed) return;
    this.write(unavailableMessage(OUTAGE_RETRY_MS));
    this.response.end();
    this.dispose();
  }

  /**
   * Everything below the horizon read now: the hub's own position, taken before, is below it, so
   * what the hub hands over from then on joins the replay with no gap (and `send` drops what both gave).
   */
  private async replay(): Promise<void> {
    const before = await this.events.horizon();
    for (;;) {
      const rows = await this.events.afterId(this.partnerId, this.filters, this.lastSent, before, REPLAY_CHUNK);
      for (const row of rows) this.send(row);
      if (this.closed || rows.length < REPLAY_CHUNK) return;
      // Let the socket drain before reading more: a long replay must not pile up in memory.
      if (this.response.writableNeedDrain) await new Promise((resolve) => this.response.once('drain', resolve));
    }
  }

  private send(row: EventRow): void {
    if (row.id <= this.lastSent) return;
    this.lastSent = row.id;
    this.write(message(row));
  }

  private write(chunk: string): void {
    if (this.closed) return;
    this.response.write(chunk);
    if (this.response.writableLength > this.options.maxBufferedBytes) {
      // A consumer this far behind is cut off; it reconnects with Last-Event-ID and replays from the database.
      this.response.destroy();
      this.dispose();
    }
  }

  private dispose(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.hub.remove(this);
  }
}
