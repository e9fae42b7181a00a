import { and, asc, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { Database, NamedStatement, RunStatement } from '../../db/client.js';
import { apiTokens, type ApiTokenRow, type PartnerRow } from '../../db/schema/index.js';

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

const OWNER_BY_HASH: NamedStatement = {
  name: 'marktag_token_owner',
  text: `select t.id as token_id, t.last_used_at, p.id, p.name, p.domain, p.created_at
         from api_tokens t join partners p on p.id = t.partner_id
         where t.token_hash = $1 and t.revoked_at is null
         limit 1`,
};

interface OwnerRow {
  token_id: string;
  last_used_at: Date | null;
  id: string;
  name: string;
  domain: string | null;
  created_at: Date;
}

export class TokensRepository {
  constructor(
    private readonly db: Database,
    private readonly run: RunStatement,
  ) {}

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
   * The partner behind a live (not revoked) token hash, read fresh on every request: a named
   * statement, since building the query anew on every request of the Partners API cost more CPU
   * than running it.
   */
  async findOwnerByHash(tokenHash: string): Promise<TokenOwner | undefined> {
    const [row] = await this.run<OwnerRow>(OWNER_BY_HASH, [tokenHash]);
    if (!row) return undefined;
    return { tokenId: row.token_id, lastUsedAt: row.last_used_at, partner: { id: row.id, name: row.name, domain: row.domain, createdAt: row.created_at } };
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
