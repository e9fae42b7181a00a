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

/** The token owner look-up, built once: every Partners API request asks it. */
function prepareOwnerByHash(db: Database) {
  return db
    .select({ tokenId: apiTokens.id, lastUsedAt: apiTokens.lastUsedAt, partner: partners })
    .from(apiTokens)
    .innerJoin(partners, eq(partners.id, apiTokens.partnerId))
    .where(and(eq(apiTokens.tokenHash, sql.placeholder('tokenHash')), isNull(apiTokens.revokedAt)))
    .limit(1)
    .prepare('marktag_token_owner');
}

export class TokensRepository {
  private readonly ownerByHash: ReturnType<typeof prepareOwnerByHash>;

  constructor(private readonly db: Database) {
    this.ownerByHash = prepareOwnerByHash(db);
  }

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

  /**
   * The partner behind a live (not revoked) token hash, read fresh on every request: prepared once
   * (built once here, and planned once per connection), since building the query anew on every
   * request of the Partners API cost more CPU than running it.
   */
  async findOwnerByHash(tokenHash: string): Promise<TokenOwner | undefined> {
    const [row] = await this.ownerByHash.execute({ tokenHash });
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
