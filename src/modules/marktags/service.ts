import type { Database } from '../../db/client.js';
import { IGNORE_REASONS, type IgnoreReason, type MarktagRow, type PartnerRow } from '../../db/schema/index.js';
import { ApiError, type ErrorDetail } from '../../errors.js';
import { newId } from '../../lib/ids.js';
import type { CnameRecord } from '../../schemas/common.js';
import type { MerchantTagsSource } from '../merchants/service.js';
import type { MerchantMarktag } from '../merchants/schemas.js';
import type { MerchantsRepository } from '../merchants/repository.js';
import { DnsUnavailableError, type DnsResolver } from './dns-resolver.js';
import { describeCheck, normalizeHost, verifyDns, type VerificationResult } from './dns-verifier.js';
import { dnsNameProblem, isWithin, registrableDomain } from './domains.js';
import type { MarktagsRepository } from './repository.js';
import type { Metrics } from '../metrics/metrics.js';
import { GENERATE_MESSAGES, type GenerateResponse, type TagDetails, type TagDiagnostics, type VerifyResponse } from './schemas.js';

export interface MarktagsOptions {
  cnameTarget: string;
  recordName: string;
  dnsTimeoutMs: number;
  /** Its scheme and port are those of the tracker URL in snippets (https and no port in production). */
  publicUrl: string;
}

const RECORD_TTL = 300;
const DNS_RETRY_AFTER_SECONDS = '30';

/** The ownership proof asked of a second partner on a registrable domain. */
export function ownershipRecord(rootDomain: string, tagId: string): { host: string; value: string } {
  return { host: `_marktag.${rootDomain}`, value: `marktag-verify=${tagId}` };
}

/** The queue stub keeps mtag() calls made before the script has loaded. */
const QUEUE_STUB = '<script>window.mtag=window.mtag||function(){(mtag.q=mtag.q||[]).push(arguments)}</script>';

export function installSnippet(host: string, tagId: string, publicUrl: string): string {
  const base = new URL(publicUrl);
  const port = base.port === '' ? '' : `:${base.port}`;
  return `${QUEUE_STUB}\n<script async src="${base.protocol}//${host}${port}/mtag.js" data-tag-id="${tagId}"></script>`;
}

const tagNotFound = () => ApiError.notFound('TAG_NOT_FOUND', 'Tag not found');

/** Every reason with its count (0 when none), and the latest of their times. */
function diagnosticsOf(rows: { reason: string; count: number; lastIgnoredAt: Date }[]): TagDiagnostics {
  const ignoredEvents = Object.fromEntries(IGNORE_REASONS.map((reason) => [reason, 0])) as TagDiagnostics['ignoredEvents'];
  let last: Date | undefined;
  for (const row of rows) {
    if ((IGNORE_REASONS as readonly string[]).includes(row.reason)) ignoredEvents[row.reason as IgnoreReason] = Number(row.count);
    if (last === undefined || row.lastIgnoredAt > last) last = row.lastIgnoredAt;
  }
  return { ignoredEvents, lastIgnoredAt: last?.toISOString() ?? null };
}

export class MarktagsService implements MerchantTagsSource {
  constructor(
    private readonly db: Database,
    private readonly tags: MarktagsRepository,
    private readonly merchants: MerchantsRepository,
    private readonly dns: DnsResolver,
    private readonly options: MarktagsOptions,
    private readonly metrics?: Metrics,
  ) {}

  /** The same merchant and domain always give the same tag; preverified under the partner's own domain. */
  async generate(partner: PartnerRow, merchantId: string, rawDomain: string): Promise<GenerateResponse> {
    const domain = normalizeHost(rawDomain);
    const problem = dnsNameProblem(domain);
    if (problem) throw ApiError.validation('domain', problem);
    const rootDomain = registrableDomain(domain);
    if (rootDomain === null) {
      throw ApiError.validation('domain', `cannot be processed: ${domain} is a public suffix, not a domain someone can register`);
    }
    if (!(await this.merchants.exists(partner.id, merchantId))) {
      throw ApiError.notFound('MERCHANT_NOT_FOUND', "Merchant doesn't exist or doesn't belong to partner");
    }

    const preverified = partner.domain !== null && isWithin(domain, partner.domain);
    const created = await this.tags.insertIfAbsent(partner.id, {
      id: newId(),
      merchantId,
      domain,
      rootDomain,
      preverified,
      status: preverified ? 'active' : 'inactive',
      recordName: this.options.recordName,
      recordValue: this.options.cnameTarget,
      trackingHost: preverified && partner.domain ? `${this.options.recordName}.${partner.domain}` : null,
    });
    const tag = created ?? (await this.tags.findByMerchantDomain(partner.id, merchantId, domain));
    if (!tag) throw new Error('tag vanished between insert and read');
    const record = recordOf(tag);
    if (!record) throw new ApiError(500, 'VALIDATION_ERROR', 'Tag configuration incomplete: the tag has no CNAME record');
    return { tagId: tag.id, record, status: tag.status, message: created ? GENERATE_MESSAGES.created : GENERATE_MESSAGES.existing };
  }

  async verify(partner: PartnerRow, tagId: string, rawSubdomain: string): Promise<VerifyResponse> {
    const owner = await this.tags.ownerOf(tagId);
    if (owner === undefined) throw tagNotFound();
    if (owner !== partner.id) throw new ApiError(403, 'ACCESS_DENIED', "This tag belongs to a merchant of another partner");
    const tag = await this.tags.find(partner.id, tagId);
    if (!tag) throw tagNotFound();

    const subdomain = normalizeHost(rawSubdomain);
    const problem = dnsNameProblem(subdomain);
    if (problem) throw ApiError.validation('subdomain', problem);
    if (registrableDomain(subdomain) !== tag.rootDomain) {
      throw ApiError.validation('subdomain', `must be ${tag.rootDomain} or one of its subdomains, the domain of this tag`);
    }
    const record = recordOf(tag);
    if (!record) throw ApiError.validation('tagId', 'refers to a tag whose configuration is incomplete: generate it again');

    if (tag.preverified) {
      await this.tags.setHostname(partner.id, tag.id, subdomain);
      return { verified: true };
    }

    const contested = (await this.tags.liveTagsOfOthers(partner.id, tag.rootDomain)).length > 0;
    const ownership = ownershipRecord(tag.rootDomain, tag.id);
    const result = await this.checkDns(this.candidates(subdomain, tag.rootDomain, record.name), record.value, contested ? ownership : undefined);
    const matched = result.matched;
    if (!matched) throw dnsFailure(result, record, contested ? ownership : undefined);

    await this.db.transaction(async (tx) => {
      await this.tags.lockDomain(tag.rootDomain, tx);
      // Read again under the lock: another partner may have verified this domain meanwhile.
      const others = await this.tags.liveTagsOfOthers(partner.id, tag.rootDomain, tx);
      if (others.length > 0) {
        if (result.txt?.outcome !== 'found') throw ownershipRequired(tag.rootDomain, ownership, result);
        await this.tags.disconnectLostTags(others, tx);
      }
      await this.tags.markVerified(partner.id, tag.id, { hostname: subdomain, trackingHost: matched.host }, tx);
    });
    return { verified: true };
  }

  async details(partnerId: string, tagId: string): Promise<TagDetails> {
    // Both reads are confined to the partner: the counts are simply dropped when the tag is not theirs.
    const [tag, ignored] = await Promise.all([this.tags.find(partnerId, tagId), this.tags.ignoredEvents(partnerId, tagId)]);
    if (!tag) throw tagNotFound();
    const record = recordOf(tag);
    const host = tag.trackingHost ?? `${tag.recordName ?? this.options.recordName}.${tag.hostname}`;
    return {
      tagId: tag.id,
      merchantId: tag.merchantId,
      domain: tag.domain,
      hostname: tag.hostname,
      preverified: tag.preverified,
      status: tag.status,
      isConnected: tag.isConnected,
      isVerified: tag.isVerified,
      record,
      trackingHost: tag.trackingHost,
      snippet: installSnippet(host, tag.id, this.options.publicUrl),
      createdAt: tag.createdAt.toISOString(),
      verifiedAt: tag.verifiedAt?.toISOString() ?? null,
      lastEventAt: tag.lastEventAt?.toISOString() ?? null,
      diagnostics: diagnosticsOf(ignored),
    };
  }

  async forMerchants(partnerId: string, merchantIds: string[], tx?: Database): Promise<Map<string, MerchantMarktag[]>> {
    const rows = await this.tags.listForMerchants(partnerId, merchantIds, tx);
    const byMerchant = new Map<string, MerchantMarktag[]>();
    for (const row of rows) {
      const list = byMerchant.get(row.merchantId) ?? [];
      list.push({ hostname: row.hostname, tagId: row.id, status: row.status, createdAt: row.createdAt.toISOString() });
      byMerchant.set(row.merchantId, list);
    }
    return byMerchant;
  }

  /** The documented candidates, in order: `<record>.<subdomain>`, `<subdomain>`, `<record>.<root>`. */
  candidates(subdomain: string, rootDomain: string, recordName: string): string[] {
    return [...new Set([`${recordName}.${subdomain}`, subdomain, `${recordName}.${rootDomain}`])];
  }

  private async checkDns(candidates: string[], target: string, ownership: { host: string; value: string } | undefined): Promise<VerificationResult> {
    try {
      const result = await verifyDns(this.dns, { candidates, target, ...(ownership ? { ownership } : {}) }, this.options.dnsTimeoutMs);
      this.metrics?.dnsVerifications.inc({ check: 'verify', outcome: result.matched ? 'verified' : 'failed' });
      return result;
    } catch (error) {
      if (error instanceof DnsUnavailableError) {
        this.metrics?.dnsVerifications.inc({ check: 'verify', outcome: 'unavailable' });
        throw dnsUnavailable(error);
      }
      throw error;
    }
  }
}

export function recordOf(tag: MarktagRow): CnameRecord | null {
  if (!tag.recordName || !tag.recordValue) return null;
  return { type: 'CNAME', name: tag.recordName, value: tag.recordValue, ttl: RECORD_TTL };
}

export function dnsUnavailable(error: DnsUnavailableError): ApiError {
  return new ApiError(
    503,
    'EXTERNAL_SERVICE_ERROR',
    `DNS verification is unavailable right now (${error.reason} for ${error.host}); retry shortly`,
    undefined,
    { 'retry-after': DNS_RETRY_AFTER_SECONDS },
  );
}

function checkDetails(result: VerificationResult, target: string): ErrorDetail[] {
  return result.checks.map((check) => ({ field: 'subdomain', message: describeCheck(check, target), host: check.host, resolvedTo: check.chain }));
}

function dnsFailure(result: VerificationResult, record: CnameRecord, ownership: { host: string; value: string } | undefined): ApiError {
  const hosts = result.checks.map((check) => check.host);
  const alsoTxt = ownership
    ? ` This domain is already verified by another partner, so also add the TXT record ${ownership.host} with the value ${ownership.value}.`
    : '';
  return new ApiError(
    422,
    'VALIDATION_ERROR',
    `DNS verification failed: none of ${hosts.join(', ')} is a CNAME to ${record.value}. ` +
      `Add the CNAME record ${hosts[0] ?? record.name} → ${record.value} (TTL ${record.ttl}), wait for DNS to propagate (usually 5-30 minutes), then verify again.${alsoTxt}`,
    checkDetails(result, record.value),
  );
}

function ownershipRequired(rootDomain: string, ownership: { host: string; value: string }, result: VerificationResult): ApiError {
  const found = result.txt?.found ?? [];
  return new ApiError(
    422,
    'VALIDATION_ERROR',
    `${rootDomain} is already verified by another partner, and a CNAME cannot tell owners apart: ` +
      `also add the TXT record ${ownership.host} with the value ${ownership.value}, then verify again.`,
    [
      {
        field: 'subdomain',
        message: found.length > 0 ? `${ownership.host}: TXT ${found.map((text) => `"${text}"`).join(', ')}, not "${ownership.value}"` : `${ownership.host}: no TXT record "${ownership.value}"`,
        host: ownership.host,
        resolvedTo: found,
      },
    ],
  );
}
