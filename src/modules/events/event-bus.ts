import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { FastifyBaseLogger } from 'fastify';
import type { PostgresHandle } from '../../db/client.js';

/**
 * "New events up to id N": all a stream needs to hear; each process then reads the rows itself.
 * The collector tells the bus once its insert has committed.
 */
export interface EventBus {
  /** After the commit of events up to `maxId`. */
  committed(maxId: bigint): void;
  /** `maxId` is -1 when the bus cannot tell (after a reconnect): listeners should look anyway. */
  subscribe(listener: (maxId: bigint) => void): () => void;
  close(): Promise<void>;
}

/** Embedded mode: one process, so an EventEmitter does the job. */
export class InProcessEventBus implements EventBus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  committed(maxId: bigint): void {
    this.emitter.emit('events', maxId);
  }

  subscribe(listener: (maxId: bigint) => void): () => void {
    this.emitter.on('events', listener);
    return () => this.emitter.off('events', listener);
  }

  close(): Promise<void> {
    this.emitter.removeAllListeners();
    return Promise.resolve();
  }
}

export const CHANNEL = 'marktag_events';
/** The shortest time between two NOTIFYs of one process: what other processes' streams may lag by. */
export const DEFAULT_NOTIFY_INTERVAL_MS = 20;

/** Sends one NOTIFY on the database channel (a statement of its own, through the pool). */
export type Notify = (payload: string) => Promise<void>;

/**
 * PostgreSQL LISTEN/NOTIFY across processes. One dedicated connection listens (opened when the
 * first listener subscribes) and reconnects with backoff if it drops, waking listeners afterwards
 * so that nothing announced meanwhile is left unread.
 *
 * The NOTIFY is not part of the insert's transaction: PostgreSQL serialises the commits of
 * transactions that notify (one lock for the whole server, held through the commit's WAL flush),
 * which would undo group commit across batches and processes. It is sent just after the commit,
 * in a statement of its own that writes nothing (so it waits for no WAL flush), at most one at a
 * time and one every `minIntervalMs`, the latest id carried by the next: listeners only need the
 * highest. Under load that is one NOTIFY for many commits rather than one each: a statement to
 * the database is a round trip that wakes its backend, and half the collector's statements were
 * these. Other processes' streams hear at most that much later; this process's own listeners hear
 * at once. A NOTIFY lost to a crash or an outage is covered by the hub's poll.
 */
export class PostgresEventBus implements EventBus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private closed = false;
  private retryDelayMs = 250;

  private sending = false;
  private unsent = 0n;
  private lastSentAt = 0;

  constructor(
    private readonly connectionString: string,
    private readonly log: FastifyBaseLogger,
    private readonly notify: Notify,
    private readonly minIntervalMs = DEFAULT_NOTIFY_INTERVAL_MS,
  ) {}

  committed(maxId: bigint): void {
    this.emitter.emit('events', maxId);
    if (maxId > this.unsent) this.unsent = maxId;
    if (!this.sending) void this.send();
  }

  private async send(): Promise<void> {
    this.sending = true;
    try {
      while (this.unsent > 0n && !this.closed) {
        const wait = this.lastSentAt + this.minIntervalMs - Date.now();
        // Commits meanwhile raise `unsent`: the one NOTIFY after the wait carries them all.
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait).unref());
        if (this.closed) break;
        this.lastSentAt = Date.now();
        const maxId = this.unsent;
        this.unsent = 0n;
        await this.notify(maxId.toString()).catch((error: unknown) => this.log.debug({ err: error }, 'event notification not sent; the poll covers it'));
      }
    } finally {
      this.sending = false;
    }
  }

  subscribe(listener: (maxId: bigint) => void): () => void {
    this.emitter.on('events', listener);
    this.connecting ??= this.connect();
    return () => this.emitter.off('events', listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.emitter.removeAllListeners();
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    while (!this.closed) {
      const client = new pg.Client({ connectionString: this.connectionString, application_name: 'marktag-listen', keepAlive: true });
      try {
        await client.connect();
        client.on('notification', (message) => {
          if (message.channel === CHANNEL && message.payload && /^\d+$/.test(message.payload)) this.emitter.emit('events', BigInt(message.payload));
        });
        client.on('error', () => undefined);
        client.on('end', () => {
          if (this.closed || this.client !== client) return;
          this.client = undefined;
          this.log.warn('event bus connection lost; reconnecting');
          this.connecting = this.connect();
        });
        await client.query(`listen ${CHANNEL}`);
        if (this.closed) {
          await client.end();
          return;
        }
        this.client = client;
        this.retryDelayMs = 250;
        this.emitter.emit('events', -1n);
        return;
      } catch (error) {
        await client.end().catch(() => undefined);
        this.log.warn({ err: error }, 'event bus cannot listen yet; retrying');
        await new Promise((resolve) => setTimeout(resolve, this.retryDelayMs).unref());
        this.retryDelayMs = Math.min(this.retryDelayMs * 2, 5000);
      }
    }
  }
}

/** The bus of a PostgreSQL deployment: listens on its own connection, notifies through the pool. */
export function postgresEventBus(database: PostgresHandle, log: FastifyBaseLogger): PostgresEventBus {
  return new PostgresEventBus(database.connectionString, log, async (payload) => {
    await database.pool.query('select pg_notify($1, $2)', [CHANNEL, payload]);
  });
}
