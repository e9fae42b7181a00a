import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { WindowCounter } from '../src/lib/window-counter.js';
import { redisForTest, TEST_REDIS_URL } from './helpers/redis.js';

const clients: Redis[] = [];
afterAll(async () => {
  for (const client of clients) await client.quit();
});

describe('WindowCounter', () => {
  it('counts each key in windows aligned to the clock, and forgets a window once it ends', () => {
    const counter = new WindowCounter({ windowMs: 60_000, nameSpace: 'test-' });
    const start = 1_800_000_000_000; // a window boundary (a multiple of 60 s)
    expect(counter.hit('a', start)).toEqual({ count: 1, resetInMs: 60_000 });
    expect(counter.hit('a', start + 59_000)).toEqual({ count: 2, resetInMs: 1_000 });
    expect(counter.hit('b', start + 59_000).count).toBe(1);
    expect(counter.hit('a', start + 60_000)).toEqual({ count: 1, resetInMs: 60_000 });
    expect(counter.hit('b', start + 61_000).count).toBe(1);
  });

  it('shares counts between processes through Redis, without a round trip per hit', async () => {
    if (!(await redisForTest())) return;
    const nameSpace = `marktag-test-${randomUUID()}-`;
    const connect = async () => {
      const client = new Redis(TEST_REDIS_URL, { lazyConnect: true });
      clients.push(client);
      await client.connect();
      return client;
    };
    // syncMs long enough that the test drives every sync itself.
    const first = new WindowCounter({ windowMs: 60_000, redis: await connect(), nameSpace, syncMs: 3_600_000 });
    const second = new WindowCounter({ windowMs: 60_000, redis: await connect(), nameSpace, syncMs: 3_600_000 });
    for (let i = 0; i < 5; i++) first.hit('tag:x');
    for (let i = 0; i < 3; i++) second.hit('tag:x');
    // Before a sync each knows its own hits only.
    expect(first.hit('tag:x').count).toBe(6);
    await first.sync();
    await second.sync();
    // After: the second has read everyone's total; the first learns the second's hits when it next sends its own.
    expect(second.hit('tag:x').count).toBe(10);
    expect(first.hit('tag:x').count).toBe(7);
    await first.sync();
    expect(first.hit('tag:x').count).toBe(11); // 10 in Redis (the second's last hit is not sent yet), and this one
    first.close();
    second.close();
  });

  it('counts in this process alone while Redis cannot be reached, and says so', async () => {
    const down = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    const counter = new WindowCounter({ windowMs: 60_000, redis: down, nameSpace: 'test-down-', syncMs: 3_600_000 });
    for (let i = 0; i < 4; i++) counter.hit('tag:y');
    await counter.sync();
    expect(counter.hit('tag:y').count).toBe(5);
    counter.close();
    down.disconnect();
  });
});
