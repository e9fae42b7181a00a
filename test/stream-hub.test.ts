import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import type { Database, RunStatement } from '../src/db/client.js';
import type { EventRow } from '../src/db/schema/index.js';
import { InProcessEventBus } from '../src/modules/events/event-bus.js';
import { EventsRepository } from '../src/modules/events/repository.js';
import { DEFAULT_HUB_OPTIONS, StreamHub, type StreamSubscriber } from '../src/modules/events/stream-hub.js';
import { createTestApp, type TestContext } from './helpers/app.js';
import { testDatabase } from './helpers/database.js';
import { seedEvents, type Owner } from './helpers/events.js';
import { createMerchant, createPartner, createTag } from './helpers/factories.js';

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

/** The real repository, whose next watermark read can be held back and then taken when released. */
class GatedEventsRepository extends EventsRepository {
  private gate: Promise<void> | undefined;

  holdNextHorizon(): () => void {
    let release!: () => void;
    this.gate = new Promise<void>((resolve) => (release = resolve));
    return release;
  }

  override async horizon(): Promise<bigint> {
    const gate = this.gate;
    this.gate = undefined;
    if (gate) await gate;
    return super.horizon();
  }
}

function subscriber(partnerId = 'p'): StreamSubscriber & { received: EventRow[] } {
  const received: EventRow[] = [];
  return { partnerId, filters: {}, received, deliver: (row) => received.push(row), close: () => undefined };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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

describe('StreamHub: streams added while an idle hub moves its position forward', () => {
  let ctx: TestContext;
  let owner: Owner;
  beforeAll(async () => {
    ctx = await createTestApp();
    const partner = await createPartner(ctx.app);
    const merchantId = await createMerchant(ctx.app, partner.token);
    owner = { partnerId: partner.partnerId, merchantId, tagId: await createTag(ctx.app, partner.token, merchantId) };
  });
  afterAll(async () => ctx.app.close());

  it('hands a second stream no position its replay could end below', async () => {
    const repository = new GatedEventsRepository(ctx.database.db, ctx.database.run);
    const hub = new StreamHub(repository, new InProcessEventBus(), silent, DEFAULT_HUB_OPTIONS);
    try {
      // The hub starts, then its only stream leaves: its position goes stale while events come.
      const first = subscriber(owner.partnerId);
      const seen = await hub.add(first);
      hub.remove(first);
      const early = await seedEvents(ctx.database, owner, [{ at: new Date() }, { at: new Date() }]);

      // A stream finds the hub idle; its watermark read is slow. A second stream comes meanwhile.
      const release = repository.holdNextHorizon();
      const a = subscriber(owner.partnerId);
      const b = subscriber(owner.partnerId);
      const addedA = hub.add(a);
      // As a reconnecting stream does: the live position, then a replay up to a watermark read after it.
      const replayedB = hub.add(b).then(async (live) => ({ live, before: await repository.horizon() }));
      await Promise.race([replayedB, sleep(200)]);

      // Events commit before the slow watermark read is taken.
      const late = await seedEvents(ctx.database, owner, [{ at: new Date() }, { at: new Date() }]);
      release();
      await addedA;
      const { live, before } = await replayedB;
      // b had everything up to the first stream's position, and asks for the rest.
      const replay = await repository.afterId(owner.partnerId, {}, seen, before, 100);
      expect(live).toBeGreaterThanOrEqual(seen);
      hub.wake();

      const expected = [...early, ...late].map((event) => event.eventId).sort();
      const gathered = () => new Set([...replay, ...b.received].map((row) => row.eventId));
      const deadline = Date.now() + 2000;
      while (Date.now() < deadline && expected.some((id) => !gathered().has(id))) await sleep(20);
      expect([...gathered()].sort()).toEqual(expected);
    } finally {
      await hub.close('test over');
    }
  });
});
