import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Database } from '../src/db/client.js';
import { CollectRepository, type CollectionTag } from '../src/modules/collect/repository.js';
import { TagCache } from '../src/modules/collect/tag-cache.js';
import { testDatabase } from './helpers/database.js';

/** The real repository, counting the look-ups that reach the database, by tag. */
class CountingRepository extends CollectRepository {
  readonly lookups: string[] = [];

  override async findTag(tagId: string, tx?: Database): Promise<CollectionTag | undefined> {
    this.lookups.push(tagId);
    return super.findTag(tagId, tx);
  }
}

async function counting(): Promise<CountingRepository> {
  const database = await testDatabase();
  return new CountingRepository(database.db, database.run);
}

describe('TagCache', () => {
  it('when full, drops only the least recently used tag, not every entry', async () => {
    const repository = await counting();
    const cache = new TagCache(repository, 60_000, 3);
    const [a, b, c, d] = Array.from({ length: 4 }, () => randomUUID());
    for (const id of [a, b, c, a]) await cache.get(id as string);
    expect(repository.lookups).toEqual([a, b, c]);
    await cache.get(d as string); // full: b is the least recently used
    for (const id of [a, c, d]) await cache.get(id as string);
    expect(repository.lookups).toEqual([a, b, c, d]);
    await cache.get(b as string);
    expect(repository.lookups).toEqual([a, b, c, d, b]);
    expect(cache.size).toBe(3);
  });

  it('shares one query between concurrent misses of a tag, and looks again after the TTL', async () => {
    const repository = await counting();
    const cache = new TagCache(repository, 50, 10);
    const id = randomUUID();
    await Promise.all(Array.from({ length: 5 }, () => cache.get(id)));
    expect(repository.lookups).toEqual([id]);
    await new Promise((resolve) => setTimeout(resolve, 80));
    await cache.get(id);
    expect(repository.lookups).toEqual([id, id]);
  });
});
