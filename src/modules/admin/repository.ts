import { count, desc, eq, sql } from 'drizzle-orm';
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

  /**
   * Holds, until the transaction ends, the right to claim partner domains under one registrable
   * domain: any two overlapping domains share it, so two creates that could conflict take turns.
   */
  async lockDomainClaims(rootDomain: string, tx: Database): Promise<void> {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`partner-domain:${rootDomain}`}, 0))`);
  }

  /** A partner whose domain equals `domain`, lies under it, or has it under itself (case-insensitive). */
  async findOverlappingDomain(domain: string, tx: Database = this.db): Promise<PartnerRow | undefined> {
    const claimed = sql`lower(${partners.domain})`;
    const [row] = await tx
      .select()
      .from(partners)
      .where(
        sql`${claimed} = ${domain} or right(${claimed}, ${domain.length + 1}) = ${`.${domain}`} or right(${domain}, length(${claimed}) + 1) = '.' || ${claimed}`,
      )
      .limit(1);
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
