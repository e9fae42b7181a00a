import type { CollectionTag, CollectRepository } from './repository.js';

/**
 * Tag look-ups for the collector, cached for `ttlMs` (unknown tags too, so a flood of made-up ids
 * costs one query each per TTL). A verify or a disconnect therefore reaches the collector within
 * `ttlMs` (5 s by default). Concurrent misses for one tag share a single query.
 */
export class TagCache {
  private readonly entries = new Map<string, { tag: CollectionTag | undefined; expires: number }>();
  private readonly loading = new Map<string, Promise<CollectionTag | undefined>>();

  constructor(
    private readonly repository: CollectRepository,
    private readonly ttlMs = 5000,
    private readonly maxEntries = 50_000,
  ) {}

  async get(tagId: string): Promise<CollectionTag | undefined> {
    const now = Date.now();
    const hit = this.entries.get(tagId);
    if (hit && hit.expires > now) return hit.tag;
    const inFlight = this.loading.get(tagId);
    if (inFlight) return inFlight;
    const load = this.repository
      .findTag(tagId)
      .then((tag) => {
        if (this.entries.size >= this.maxEntries) this.evictExpired(now);
        if (this.entries.size >= this.maxEntries) this.entries.clear();
        this.entries.set(tagId, { tag, expires: Date.now() + this.ttlMs });
        return tag;
      })
      .finally(() => this.loading.delete(tagId));
    this.loading.set(tagId, load);
    return load;
  }

  private evictExpired(now: number): void {
    for (const [id, entry] of this.entries) if (entry.expires <= now) this.entries.delete(id);
  }
}
