import pg from 'pg';

export interface Sizes {
  events: number;
  keys: number;
  /** Heap of the partitions with TOAST, free space and visibility maps: pg_total_relation_size − pg_indexes_size. */
  heapBytes: number;
  /** The main fork alone (pg_relation_size). */
  mainBytes: number;
  indexBytes: number;
  /** event_keys with its indexes (pg_total_relation_size). */
  keysBytes: number;
  partitions: number;
}

/** The on-disk size of the events (all partitions of `events`, by pg_inherits) and of event_keys. */
export async function storageSizes(databaseUrl: string): Promise<Sizes> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const [row] = (
      await client.query<{ events: string; keys: string; total: string; main: string; indexes: string; keys_bytes: string; partitions: string }>(
        `select (select count(*) from events) as events,
                (select count(*) from event_keys) as keys,
                coalesce(sum(pg_total_relation_size(i.inhrelid)), 0) as total,
                coalesce(sum(pg_relation_size(i.inhrelid)), 0) as main,
                coalesce(sum(pg_indexes_size(i.inhrelid)), 0) as indexes,
                pg_total_relation_size('event_keys') as keys_bytes,
                count(*) as partitions
         from pg_inherits i where i.inhparent = 'events'::regclass`,
      )
    ).rows;
    const n = (value: string | undefined) => Number(value ?? 0);
    return {
      events: n(row?.events),
      keys: n(row?.keys),
      heapBytes: n(row?.total) - n(row?.indexes),
      mainBytes: n(row?.main),
      indexBytes: n(row?.indexes),
      keysBytes: n(row?.keys_bytes),
      partitions: n(row?.partitions),
    };
  } finally {
    await client.end();
  }
}
