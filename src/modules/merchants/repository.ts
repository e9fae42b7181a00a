import { and, count, desc, eq, sql } from 'drizzle-orm';
import type { Database, NamedStatement, RunStatement } from '../../db/client.js';
import { merchants, type MerchantRow } from '../../db/schema/index.js';

const MERCHANT_EXISTS: NamedStatement = {
  name: 'marktag_merchant_exists',
  text: 'select 1 from merchants where partner_id = $1 and id = $2 limit 1',
};

/** Every method is confined to one partner: another partner's merchant simply does not exist here. */
export class MerchantsRepository {
  constructor(
    private readonly db: Database,
    private readonly run: RunStatement,
  ) {}

  async insert(partnerId: string, merchant: { id: string; name: string }, tx: Database = this.db): Promise<MerchantRow> {
    const [row] = await tx
      .insert(merchants)
      .values({ ...merchant, partnerId })
      .returning();
    if (!row) throw new Error('insert returned no row');
    return row;
  }

  /** Newest first, ties broken by id, so pages never shuffle. */
  async list(partnerId: string, offset: number, limit: number, tx: Database = this.db): Promise<MerchantRow[]> {
    return tx
      .select()
      .from(merchants)
      .where(eq(merchants.partnerId, partnerId))
      .orderBy(desc(merchants.createdAt), desc(merchants.id))
      .limit(limit)
      .offset(offset);
  }

  async count(partnerId: string, tx: Database = this.db): Promise<number> {
    const [row] = await tx.select({ total: count() }).from(merchants).where(eq(merchants.partnerId, partnerId));
    return row?.total ?? 0;
  }

  /** A named statement: the Events API asks it on every merchant-scoped read. */
  async exists(partnerId: string, merchantId: string): Promise<boolean> {
    return (await this.run(MERCHANT_EXISTS, [partnerId, merchantId])).length > 0;
  }

  async find(partnerId: string, merchantId: string, tx: Database = this.db): Promise<MerchantRow | undefined> {
    const [row] = await tx
      .select()
      .from(merchants)
      .where(and(eq(merchants.partnerId, partnerId), eq(merchants.id, merchantId)))
      .limit(1);
    return row;
  }

  async update(partnerId: string, merchantId: string, patch: { name?: string; keepQueryParams?: string[] }, tx: Database = this.db): Promise<MerchantRow | undefined> {
    const [row] = await tx
      .update(merchants)
      .set({ ...patch, updatedAt: sql`now()` })
      .where(and(eq(merchants.partnerId, partnerId), eq(merchants.id, merchantId)))
      .returning();
    return row;
  }
}
