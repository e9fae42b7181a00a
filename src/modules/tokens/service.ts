import type { Database } from '../../db/client.js';
import type { ApiTokenRow, PartnerRow } from '../../db/schema/index.js';
import { newId } from '../../lib/ids.js';
import type { TokensRepository } from './repository.js';
import { displayPrefix, generateToken, hashToken, isWellFormedToken } from './token-format.js';

export interface IssuedToken {
  row: ApiTokenRow;
  /** The secret, returned once and never stored. */
  token: string;
}

export type Authentication =
  | { ok: true; partner: PartnerRow; tokenId: string }
  | { ok: false; reason: 'malformed' | 'unknown' };

const TOUCH_INTERVAL_MS = 60_000;

export class TokensService {
  constructor(private readonly tokens: TokensRepository) {}

  async issue(partnerId: string, name: string | null, tx?: Database): Promise<IssuedToken> {
    const token = generateToken();
    const row = await this.tokens.insert(partnerId, { id: newId(), name, tokenHash: hashToken(token), prefix: displayPrefix(token) }, tx);
    return { row, token };
  }

  list(partnerId: string): Promise<ApiTokenRow[]> {
    return this.tokens.listByPartner(partnerId);
  }

  revoke(tokenId: string): Promise<boolean> {
    return this.tokens.revoke(tokenId);
  }

  /** Shape and checksum first: a malformed token never costs a database look-up. */
  async authenticate(token: string): Promise<Authentication> {
    if (!isWellFormedToken(token)) return { ok: false, reason: 'malformed' };
    const owner = await this.tokens.findOwnerByHash(hashToken(token));
    if (!owner) return { ok: false, reason: 'unknown' };
    if (owner.lastUsedAt === null || Date.now() - owner.lastUsedAt.getTime() > TOUCH_INTERVAL_MS) {
      await this.tokens.touch(owner.partner.id, owner.tokenId);
    }
    return { ok: true, partner: owner.partner, tokenId: owner.tokenId };
  }
}
