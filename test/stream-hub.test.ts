import { describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import type { Database, RunStatement } from '../src/db/client.js';
import type { EventRow } from '../src/db/schema/index.js';
import { InProcessEventBus } from '../src/modules/events/event-bus.js';
import { EventsRepository } from '../src/modules/events/repository.js';
import { DEFAULT_HUB_OPTIONS, StreamHub, type StreamSubscriber } from '../src/modules/events/stream-hub.js';
import { testDatabase } from './helpers/database.js';

/** The real repository, whose first `failures` reads of the watermark fail as in a database outage. */
class FlakyEventsRepository extends EventsRepository {
  constructor(
    db: Database,
    run: RunStatement,
    private failures: number,
  ) {
    super(db, run);
  }

  override async horizon(): Promise<bigint> {
    if (this.failures > 0) {
      this.failures--;
      throw Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
    }
    return super.horizon();
  }
}

function subscriber(): StreamSubscriber & { received: EventRow[] } {
  const received: EventRow[] = [];
  return { partnerId: 'p', filters: {}, received, deliver: (row) => received.push(row), close: () => undefined };
}

const silent = Fastify({ logger: false }).log;

describe('StreamHub', () => {
  it('starts again on the next stream after a start failed (database outage at the first stream)', async () => {
    const database = await testDatabase();
    const hub = new StreamHub(new FlakyEventsRepository(database.db, database.run, 1), new InProcessEventBus(), silent, DEFAULT_HUB_OPTIONS);
    try {
      const first = subscriber();
      await expect(hub.add(first)).rejects.toThrow('Connection terminated');
      hub.remove(first);
      const second = subscriber();
      await expect(hub.add(second)).resolves.toBeTypeOf('bigint');
      expect(hub.openStreams('p')).toBe(1);
    } finally {
      await hub.close('test over');
    }
  });
});
