import { count, desc, eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { partners, type PartnerRow } from '../../db/schema/index.js';

/** Partners themselves: the operator's view, across all partners. */
export class PartnersRepository {
  constructor(private readonly db: Database) {}

  async insert(partner: { id: string; name: string; domain: string | null }, tx: Database = this.db): Promise<PartnerRow> {
    const [row] = await tx.insert(partners).values(partner).returning();
    if (!row) throw new Error('insert returned no row');
    return row;
  }

  async find(partnerId: string, tx: Database = this.db): Promise<PartnerRow | undefined> {
    const [row] = await tx.select().from(partners).where(eq(partners.id, partnerId)).limit(1);
    return row;
  }

  async list(offset: number, limit: number, tx: Database = this.db): Promise<PartnerRow[]> {
    return tx.select().from(partners).orderBy(desc(partners.createdAt), desc(partners.id)).limit(limit).offset(offset);
  }

  async count(tx: Database = this.db): Promise<number> {
    const [row] = await tx.select({ total: count() }).from(partners);
    return row?.total ?? 0;
  }
}
