import { LRUCache } from 'lru-cache';
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
  | { ok: false; reason: 'malformed' | 'unknown' | 'refused' };

export interface AuthenticateOptions {
  /**
   * The caller's address has failed too often: only a token that authenticated recently is looked
   * up (so a partner sharing that address keeps working); any other is refused without a look-up.
   */
  restricted?: boolean;
}

const TOUCH_INTERVAL_MS = 60_000;
const CACHED_HASHES = 10_000;
/** Unknown hashes are remembered this long, so a replayed bad token costs no look-up. */
const UNKNOWN_TTL_MS = 60_000;
/** Tokens seen valid this recently still get through a restricted address. */
const RECENTLY_VALID_TTL_MS = 15 * 60_000;

export class TokensService {
  /**
   * Only negative answers are cached, and only for hashes of tokens never issued (a token is 178
   * random bits: a guess never becomes a real token later). A valid token is read fresh on every
   * request, so a revoked token fails on the very next one, in every process.
   */
  private readonly unknown = new LRUCache<string, true>({ max: CACHED_HASHES, ttl: UNKNOWN_TTL_MS });
  /** Hashes that authenticated recently: no secret, and never used instead of the database. */
  private readonly recentlyValid = new LRUCache<string, true>({ max: CACHED_HASHES, ttl: RECENTLY_VALID_TTL_MS });

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

  /** Shape and checksum first: a malformed token never costs a database look-up, nor does a known-unknown one. */
  async authenticate(token: string, options: AuthenticateOptions = {}): Promise<Authentication> {
    if (!isWellFormedToken(token)) return { ok: false, reason: 'malformed' };
    const hash = hashToken(token);
    if (options.restricted === true && !this.recentlyValid.has(hash)) return { ok: false, reason: 'refused' };
    if (this.unknown.has(hash)) return { ok: false, reason: 'unknown' };
    const owner = await this.tokens.findOwnerByHash(hash);
    if (!owner) {
      this.recentlyValid.delete(hash);
      this.unknown.set(hash, true);
      return { ok: false, reason: 'unknown' };
    }
    this.recentlyValid.set(hash, true);
    if (owner.lastUsedAt === null || Date.now() - owner.lastUsedAt.getTime() > TOUCH_INTERVAL_MS) {
      await this.tokens.touch(owner.partner.id, owner.tokenId);
    }
    return { ok: true, partner: owner.partner, tokenId: owner.tokenId };
  }
}
