import { randomUUID } from 'node:crypto';
import { ApiError } from '../../errors.js';
import { isWithin } from '../marktags/domains.js';
import type { BatchWriter, WriteOutcome } from './batch-writer.js';
import type { IgnoredEventsCounter } from './ignored-events.js';
import type { CollectionTag, EventRecord } from './repository.js';
import type { TagCounter } from '../diagnostics/tag-counter.js';
import type { CountryLookup } from '../geo/index.js';
import { hashTraits, NO_TRAITS } from '../identity/traits.js';
import { validateEvents, wellFormed, wellFormedOrNull, wellFormedText } from './event-checks.js';
import { attributePage } from '../attribution/attribute.js';
import { LIMITS } from './event-rules.js';
import type { CollectBody } from './schemas.js';
import type { TagCache } from './tag-cache.js';
import { inspectAgent } from './user-agent.js';

export interface CollectRequest {
  body: CollectBody;
  /** The Origin header, when the sender is a browser. */
  origin: string | undefined;
  userAgent: string | undefined;
  /** The visitor id from the first-party cookie, if any and well-formed. */
  cookieVisitor: string | undefined;
  receivedAt: Date;
  /** The body's size in bytes: what its events weigh in the batch writer's queue. */
  bodyBytes: number;
  /** The client's address (the forwarded one behind a trusted proxy): only its country is kept. */
  clientAddress: string | undefined;
}

export type CollectResult =
  | { stored: true; outcome: WriteOutcome; tag: CollectionTag; issuedVisitor: string | undefined }
  | { stored: false; reason: 'bot' };

function originHost(origin: string): string | null {
  try {
    return new URL(origin).hostname.toLowerCase();
  } catch {
    return null;
  }
}

/**
 * The collector's rules, in order: the request is well-formed, the tag exists and is live, the
 * page is on the tag's domain, the sender is not a bot; then the events go to the batch writer and
 * the answer waits for their commit.
 */
export class CollectService {
  constructor(
    private readonly tags: TagCache,
    private readonly writer: BatchWriter,
    private readonly ignored: IgnoredEventsCounter,
    private readonly countries: CountryLookup,
    private readonly counter: TagCounter,
  ) {}

  async collect(request: CollectRequest): Promise<CollectResult> {
    const { body } = request;
    validateEvents(body.events);

    const tag = await this.tags.get(body.tagId);
    if (!tag) throw ApiError.notFound('TAG_NOT_FOUND', 'Unknown tag');
    if (!tag.isVerified || !tag.isConnected) {
      throw new ApiError(403, 'TAG_NOT_VERIFIED', 'This tag does not collect events: its domain is not verified (or no longer connected)');
    }
    if (request.origin !== undefined) {
      const host = originHost(request.origin);
      if (host === null || !isWithin(host, tag.domain)) {
        throw new ApiError(403, 'ORIGIN_NOT_ALLOWED', `Events for this tag are accepted from ${tag.domain} and its subdomains only`);
      }
    }
    const agent = inspectAgent(request.userAgent);
    if (agent.bot) {
      // Browsers only: a server-side sender belongs on the server-side events API. Counted for the tag's diagnostics.
      this.ignored.add(tag.id, 'bot', body.events.length, request.receivedAt);
      this.counter.add(tag.id, 'ignored:bot', body.events.length, request.receivedAt);
      return { stored: false, reason: 'bot' };
    }

    const known = body.visitorId ?? request.cookieVisitor;
    const visitorId = known ?? randomUUID();
    const issuedVisitor = known === undefined ? visitorId : undefined;
    const { device } = agent;
    const received = request.receivedAt;
    const latest = received.getTime() + LIMITS.futureSkewMs;
    const country = this.countries.country(request.clientAddress);
    const traits = body.userId === undefined ? NO_TRAITS : hashTraits(body.user);
    const sessionId = body.sessionId ?? null;
    const rows: EventRecord[] = body.events.map((event) => {
      const clientTime = event.timestamp === undefined ? undefined : new Date(event.timestamp);
      const page = attributePage(wellFormedText(event.url), event.referrer === undefined ? undefined : wellFormedText(event.referrer), tag.keepQueryParams);
      return {
        eventId: event.eventId?.toLowerCase() ?? randomUUID(),
        tagId: tag.id,
        merchantId: tag.merchantId,
        partnerId: tag.partnerId,
        type: event.type,
        timestamp: clientTime && clientTime.getTime() <= latest ? clientTime : received,
        receivedAt: received,
        url: page.url,
        referrer: page.referrer,
        attribution: page.attribution,
        title: wellFormedOrNull(event.title),
        visitorId,
        sessionId,
        value: event.value ?? null,
        currency: event.currency ?? null,
        properties: event.properties ? wellFormed(event.properties) : null,
        deviceType: device.type,
        deviceBrowser: device.browser,
        deviceOs: device.os,
        source: 'browser',
        userId: body.userId ?? null,
        country,
        // Without a session each event stands alone; in one, the write gives it the session's attribution unless it brings its own campaign.
        ownAttribution: sessionId === null || page.ownCampaign,
        emailSha256: traits.emailSha256,
        phoneSha256: traits.phoneSha256,
      };
    });
    const outcome = await this.writer.write(rows, tag.status === 'waiting_for_events' ? [tag.id] : [], request.bodyBytes);
    this.counter.stored(tag.id, 'browser', outcome.accepted, outcome.duplicates, new Date());
    return { stored: true, outcome, tag, issuedVisitor };
  }
}
