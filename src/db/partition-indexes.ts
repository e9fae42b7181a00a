/**
 * The indexes of the events table are declared on the partitioned parent alone (ON ONLY) and
 * built here on each partition that lacks one, then attached: CONCURRENTLY on PostgreSQL, so that
 * ingestion and reads go on while a big partition (the one an upgrade made of the stored events)
 * is indexed. Runs after the migrations, on every start: a start that finds nothing missing costs
 * one catalog query; a build interrupted by a crash leaves an invalid index, dropped and rebuilt.
 */

import type { SqlSession } from './session.js';

interface MissingIndex {
  partition: string;
  parent_index: string;
  definition: string;
  existing_valid: boolean | null;
}

const MISSING = `
  select p.relname as partition, pi.relname as parent_index, pg_get_indexdef(pi.oid) as definition,
         (select x.indisvalid from pg_class c join pg_index x on x.indexrelid = c.oid
           where c.relname = p.relname || '_' || substr(pi.relname, length('events_') + 1)
             and c.relnamespace = p.relnamespace) as existing_valid
  from pg_inherits i
  join pg_class p on p.oid = i.inhrelid
  join pg_index px on px.indrelid = i.inhparent
  join pg_class pi on pi.oid = px.indexrelid
  where i.inhparent = to_regclass('events')
    and not exists (
      select 1 from pg_inherits ii join pg_index cx on cx.indexrelid = ii.inhrelid
      where ii.inhparent = pi.oid and cx.indrelid = p.oid)
  order by p.relname, pi.relname`;

/** A quoted SQL identifier. */
export const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** `events_w20261130` + `events_merchant_time_idx` → `events_w20261130_merchant_time_idx`. */
export function partitionIndexName(partition: string, parentIndex: string): string {
  return `${partition}_${parentIndex.slice('events_'.length)}`;
}

/** The parent's definition, for one partition: `CREATE INDEX x ON ONLY public.events USING …` → `CREATE INDEX [CONCURRENTLY] y ON public.p USING …`. */
export function partitionIndexStatement(definition: string, name: string, partition: string, concurrently: boolean): string {
  const match = /^CREATE (UNIQUE )?INDEX \S+ ON ONLY (?:(\S+)\.)?\S+ (USING .*)$/s.exec(definition);
  if (!match) throw new Error(`unexpected index definition: ${definition}`);
  const [, unique = '', schema, rest = ''] = match;
  const table = schema === undefined ? quote(partition) : `${schema}.${quote(partition)}`;
  return `CREATE ${unique}INDEX ${concurrently ? 'CONCURRENTLY ' : ''}${quote(name)} ON ${table} ${rest}`;
}

/** Builds and attaches every partition index the parent lacks; returns how many were built. */
export async function buildPartitionIndexes(session: SqlSession, concurrently: boolean): Promise<number> {
  // Statement by statement, outside any transaction: CREATE INDEX CONCURRENTLY must be.
  const missing = await session.query<MissingIndex>(MISSING);
  let built = 0;
  for (const index of missing) {
    const name = partitionIndexName(index.partition, index.parent_index);
    if (index.existing_valid === false) await session.query(`DROP INDEX ${concurrently ? 'CONCURRENTLY ' : ''}${quote(name)}`);
    if (index.existing_valid !== true) {
      await session.query(partitionIndexStatement(index.definition, name, index.partition, concurrently));
      built++;
    }
    await session.query(`ALTER INDEX ${quote(index.parent_index)} ATTACH PARTITION ${quote(name)}`);
  }
  return built;
}
