import { LRUCache } from 'lru-cache';
import type { CollectionTag, CollectRepository } from './repository.js';

/** lru-cache stores no `undefined`, and an unknown tag is worth caching too. */
interface Entry {
  tag: CollectionTag | undefined;
}

/**
 * Tag look-ups for the collector, cached for `ttlMs` (unknown tags too, so a flood of made-up ids
 * costs one query each per TTL). A verify or a disconnect therefore reaches the collector within
 * `ttlMs` (5 s by default). Concurrent misses for one tag share a single query. When full, the
 * least recently used tag makes room (lru-cache), so the busy tags stay cached instead of all
 * being dropped at once and looked up again together.
 */
export class TagCache {
  private readonly entries: LRUCache<string, Entry>;

  constructor(
    repository: CollectRepository,
    ttlMs = 5000,
    maxEntries = 50_000,
  ) {
    this.entries = new LRUCache<string, Entry>({
      max: maxEntries,
      ttl: ttlMs,
      fetchMethod: async (tagId) => ({ tag: await repository.findTag(tagId) }),
    });
  }

  async get(tagId: string): Promise<CollectionTag | undefined> {
    // The hit path stays synchronous: no fetch bookkeeping for the common case.
    const hit = this.entries.get(tagId);
    if (hit) return hit.tag;
    const loaded = await this.entries.fetch(tagId);
    return loaded?.tag;
  }

  /** Tags cached now (at most `maxEntries`). */
  get size(): number {
    return this.entries.size;
  }
}
