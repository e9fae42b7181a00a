import { and, asc, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { apiTokens, partners, type ApiTokenRow, type PartnerRow } from '../../db/schema/index.js';

export interface NewToken {
  id: string;
  name: string | null;
  tokenHash: string;
  prefix: string;
}

export interface TokenOwner {
  tokenId: string;
  lastUsedAt: Date | null;
  partner: PartnerRow;
}

export class TokensRepository {
  constructor(private readonly db: Database) {}

  async insert(partnerId: string, token: NewToken, tx: Database = this.db): Promise<ApiTokenRow> {
    const [row] = await tx
      .insert(apiTokens)
      .values({ ...token, partnerId })
      .returning();
    if (!row) throw new Error('insert returned no row');
    return row;
  }

  async listByPartner(partnerId: string, tx: Database = this.db): Promise<ApiTokenRow[]> {
    return tx.select().from(apiTokens).where(eq(apiTokens.partnerId, partnerId)).orderBy(asc(apiTokens.createdAt), asc(apiTokens.id));
  }

  /** Operator action, across partners: the token id alone names it. Returns false when there is no such token. */
  async revoke(tokenId: string, tx: Database = this.db): Promise<boolean> {
    const rows = await tx
      .update(apiTokens)
      .set({ revokedAt: sql`coalesce(${apiTokens.revokedAt}, now())` })
      .where(eq(apiTokens.id, tokenId))
      .returning({ id: apiTokens.id });
    return rows.length > 0;
  }

  /** The partner behind a live (not revoked) token hash, read fresh on every request. */
  async findOwnerByHash(tokenHash: string, tx: Database = this.db): Promise<TokenOwner | undefined> {
    const [row] = await tx
      .select({ tokenId: apiTokens.id, lastUsedAt: apiTokens.lastUsedAt, partner: partners })
      .from(apiTokens)
      .innerJoin(partners, eq(partners.id, apiTokens.partnerId))
      .where(and(eq(apiTokens.tokenHash, tokenHash), isNull(apiTokens.revokedAt)))
      .limit(1);
    return row;
  }

  /** Records use at most once a minute per token, so authentication is not a write per request. */
  async touch(partnerId: string, tokenId: string, tx: Database = this.db): Promise<void> {
    await tx
      .update(apiTokens)
      .set({ lastUsedAt: sql`now()` })
      .where(
        and(
          eq(apiTokens.partnerId, partnerId),
          eq(apiTokens.id, tokenId),
          or(isNull(apiTokens.lastUsedAt), lt(apiTokens.lastUsedAt, sql`now() - interval '1 minute'`)),
        ),
      );
  }
}
