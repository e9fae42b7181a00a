import type { Database } from '../../db/client.js';
import { sqlState } from '../../db/errors.js';
import type { ApiTokenRow, PartnerRow } from '../../db/schema/index.js';
import { ApiError } from '../../errors.js';
import { newId } from '../../lib/ids.js';
import { offsetOf, paginate, type PageRequest } from '../../lib/pagination.js';
import type { CnameRecord } from '../../schemas/common.js';
import { normalizeHost } from '../marktags/dns-verifier.js';
import { dnsNameProblem, registrableDomain } from '../marktags/domains.js';
import type { TokensService } from '../tokens/service.js';
import type { PartnersRepository } from './repository.js';
import type { CreatePartnerResponse, CreateTokenResponse, Partner, PartnerList, TokenList, TokenSummary } from './schemas.js';

export interface AdminServiceOptions {
  /** The CNAME every partner domain points at, and its record name. */
  cnameTarget: string;
  recordName: string;
}

const SNAPSHOT = { isolationLevel: 'repeatable read', accessMode: 'read only' } as const;

export class AdminService {
  constructor(
    private readonly db: Database,
    private readonly partners: PartnersRepository,
    private readonly tokens: TokensService,
    private readonly options: AdminServiceOptions,
  ) {}

  /**
   * Onboards a partner and issues its first token in one transaction: never a partner without a way
   * in. A partner domain makes every tag under it preverified, so no two partners' domains may
   * overlap: equal (ignoring case), or one under the other, is 409 DOMAIN_TAKEN.
   */
  async createPartner(name: string, rawDomain: string | null): Promise<CreatePartnerResponse> {
    const claim = rawDomain === null ? null : domainClaim(rawDomain);
    try {
      return await this.db.transaction(async (tx) => {
        if (claim !== null) {
          await this.partners.lockDomainClaims(claim.rootDomain, tx);
          const holder = await this.partners.findOverlappingDomain(claim.domain, tx);
          if (holder?.domain) throw domainTaken(claim.domain, holder.domain);
        }
        const partner = await this.partners.insert({ id: newId(), name: name.trim(), domain: claim?.domain ?? null }, tx);
        const issued = await this.tokens.issue(partner.id, 'default', tx);
        return {
          ...toPartner(partner),
          token: issued.token,
          tokenId: issued.row.id,
          record: partner.domain === null ? null : this.record(),
        };
      });
    } catch (error) {
      // The lock makes this rare; the unique index still has the last word (e.g. a claim made by an older version).
      if (claim !== null && sqlState(error) === UNIQUE_VIOLATION) throw domainTaken(claim.domain, claim.domain);
      throw error;
    }
  }

  async listPartners(page: PageRequest): Promise<PartnerList> {
    return this.db.transaction(async (tx) => {
      const [rows, total] = await Promise.all([this.partners.list(offsetOf(page), page.limit, tx), this.partners.count(tx)]);
      return { partners: rows.map(toPartner), pagination: paginate(page, total) };
    }, SNAPSHOT);
  }

  async issueToken(partnerId: string, name: string | null): Promise<CreateTokenResponse> {
    await this.requirePartner(partnerId);
    const issued = await this.tokens.issue(partnerId, name);
    return { tokenId: issued.row.id, token: issued.token };
  }

  async listTokens(partnerId: string): Promise<TokenList> {
    await this.requirePartner(partnerId);
    const rows = await this.tokens.list(partnerId);
    return { tokens: rows.map(toTokenSummary) };
  }

  async revokeToken(tokenId: string): Promise<void> {
    if (!(await this.tokens.revoke(tokenId))) throw ApiError.notFound('TOKEN_NOT_FOUND', 'Token not found');
  }

  private record(): CnameRecord {
    return { type: 'CNAME', name: this.options.recordName, value: this.options.cnameTarget, ttl: 300 };
  }

  private async requirePartner(partnerId: string): Promise<PartnerRow> {
    const partner = await this.partners.find(partnerId);
    if (!partner) throw ApiError.notFound('PARTNER_NOT_FOUND', 'Partner not found');
    return partner;
  }
}

const UNIQUE_VIOLATION = '23505';

/** A partner domain as stored, checked beyond the documented pattern. */
function domainClaim(rawDomain: string): { domain: string; rootDomain: string } {
  const domain = normalizeHost(rawDomain);
  const problem = dnsNameProblem(domain);
  if (problem) throw ApiError.validation('domain', problem);
  const rootDomain = registrableDomain(domain);
  // A public suffix would preverify every shop registered under it.
  if (rootDomain === null) throw ApiError.validation('domain', `cannot be used: ${domain} is a public suffix, not a domain someone can register`);
  return { domain, rootDomain };
}

function domainTaken(domain: string, held: string): ApiError {
  const relation =
    held === domain ? 'is already the domain of another partner'
    : held.endsWith(`.${domain}`) ? `contains ${held}, the domain of another partner`
    : `lies under ${held}, the domain of another partner`;
  const message = `The domain ${domain} ${relation}`;
  return new ApiError(409, 'DOMAIN_TAKEN', message, [{ field: 'domain', message }]);
}

export function toPartner(row: PartnerRow): Partner {
  return { partnerId: row.id, name: row.name, domain: row.domain, createdAt: row.createdAt.toISOString() };
}

function toTokenSummary(row: ApiTokenRow): TokenSummary {
  return {
    tokenId: row.id,
    name: row.name,
    prefix: row.prefix,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
  };
}
