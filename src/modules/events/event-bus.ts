import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { FastifyBaseLogger } from 'fastify';

/**
 * "New events up to id N": all a stream needs to hear; each process then reads the rows itself.
 * On PostgreSQL the collector's insert statement itself NOTIFYs (delivered to every process at
 * commit); otherwise the collector tells the bus once the insert has committed.
 */
export interface EventBus {
  /** True when the insert statement must NOTIFY the database channel. */
  readonly notifiesInDatabase: boolean;
  /** After the commit of events up to `maxId`. */
  committed(maxId: bigint): void;
  /** `maxId` is -1 when the bus cannot tell (after a reconnect): listeners should look anyway. */
  subscribe(listener: (maxId: bigint) => void): () => void;
  close(): Promise<void>;
}

/** Embedded mode: one process, so an EventEmitter does the job. */
export class InProcessEventBus implements EventBus {
  readonly notifiesInDatabase = false;
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

/**
 * PostgreSQL LISTEN/NOTIFY across processes. One dedicated connection listens (opened when the
 * first listener subscribes) and reconnects with backoff if it drops, waking listeners afterwards
 * so that nothing announced meanwhile is left unread.
 */
export class PostgresEventBus implements EventBus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private closed = false;
  private retryDelayMs = 250;

  constructor(
    private readonly connectionString: string,
    private readonly log: FastifyBaseLogger,
  ) {}

  readonly notifiesInDatabase = true;

  committed(): void {
    // NOTIFY reaches this process's own listener too.
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
