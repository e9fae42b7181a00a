import { and, eq, isNull, lt, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { idempotencyKeys, type IdempotencyKeyRow } from '../../db/schema/index.js';

export type Reservation = { reserved: true } | { reserved: false; existing: IdempotencyKeyRow };

/**
 * Keys are remembered for 24 h; a reservation that never completed (its process died) is given up
 * after a minute so that a retry can proceed.
 */
export class IdempotencyRepository {
  constructor(private readonly db: Database) {}

  async reserve(scope: string, key: string, fingerprint: string, tx: Database = this.db): Promise<Reservation> {
    const taken = await tx
      .insert(idempotencyKeys)
      .values({ scope, key, fingerprint })
      .onConflictDoUpdate({
        target: [idempotencyKeys.scope, idempotencyKeys.key],
        set: { fingerprint, statusCode: null, responseBody: null, createdAt: sql`now()` },
        setWhere: sql`${idempotencyKeys.createdAt} < now() - interval '24 hours'
          or (${idempotencyKeys.statusCode} is null and ${idempotencyKeys.createdAt} < now() - interval '1 minute')`,
      })
      .returning({ key: idempotencyKeys.key });
    if (taken.length > 0) return { reserved: true };
    const [existing] = await tx
      .select()
      .from(idempotencyKeys)
      .where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key)))
      .limit(1);
    // Expired and swept between the two statements: try once more.
    if (!existing) return this.reserve(scope, key, fingerprint, tx);
    return { reserved: false, existing };
  }

  async complete(scope: string, key: string, statusCode: number, responseBody: string, tx: Database = this.db): Promise<void> {
    await tx
      .update(idempotencyKeys)
      .set({ statusCode, responseBody })
      .where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key)));
  }

  /** Forgets an unfinished reservation, so a retry after a server fault runs again. */
  async release(scope: string, key: string, tx: Database = this.db): Promise<void> {
    await tx
      .delete(idempotencyKeys)
      .where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key), isNull(idempotencyKeys.statusCode)));
  }

  async deleteExpired(tx: Database = this.db): Promise<number> {
    const rows = await tx
      .delete(idempotencyKeys)
      .where(lt(idempotencyKeys.createdAt, sql`now() - interval '24 hours'`))
      .returning({ key: idempotencyKeys.key });
    return rows.length;
  }
}
