import { randomUUID } from 'node:crypto';
import { ApiError, type ErrorDetail } from '../../errors.js';
import { isWithin } from '../marktags/domains.js';
import type { BatchWriter, WriteOutcome } from './batch-writer.js';
import type { IgnoredEventsCounter } from './ignored-events.js';
import type { CollectionTag, EventRecord } from './repository.js';
import { LIMITS, problemInStrings } from './event-rules.js';
import type { CollectBody, CollectEvent } from './schemas.js';
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
}

export type CollectResult =
  | { stored: true; outcome: WriteOutcome; tag: CollectionTag; issuedVisitor: string | undefined }
  | { stored: false; reason: 'bot' };

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Replaces lone UTF-16 surrogates (valid in JSON, refused by PostgreSQL) with U+FFFD. */
function wellFormedText(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD');
}

function wellFormed<T>(value: T): T {
  return JSON.parse(JSON.stringify(value, (_key, item: unknown) => (typeof item === 'string' ? wellFormedText(item) : item))) as T;
}

/** Checks the schema cannot express: string contents and the byte size of properties. */
function validateEvents(events: CollectEvent[]): void {
  const details: ErrorDetail[] = [];
  events.forEach((event, index) => {
    for (const [field, value] of Object.entries(event)) {
      const problem = problemInStrings(value);
      if (problem) details.push({ field: `events.${index}.${field}`, message: `events.${index}.${field} ${problem}` });
    }
    if (event.properties && Buffer.byteLength(JSON.stringify(event.properties)) > LIMITS.propertiesBytes) {
      details.push({
        field: `events.${index}.properties`,
        message: `events.${index}.properties must be at most ${LIMITS.propertiesBytes} bytes of JSON`,
      });
    }
  });
  if (details.length > 0) throw new ApiError(400, 'VALIDATION_ERROR', details[0]?.message ?? 'Invalid events', details);
}

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
      return { stored: false, reason: 'bot' };
    }

    const known = body.visitorId ?? request.cookieVisitor;
    const visitorId = known ?? randomUUID();
    const issuedVisitor = known === undefined ? visitorId : undefined;
    const { device } = agent;
    const received = request.receivedAt;
    const latest = received.getTime() + LIMITS.futureSkewMs;
    const rows: EventRecord[] = body.events.map((event) => {
      const clientTime = event.timestamp === undefined ? undefined : new Date(event.timestamp);
      return {
        eventId: event.eventId?.toLowerCase() ?? randomUUID(),
        tagId: tag.id,
        merchantId: tag.merchantId,
        partnerId: tag.partnerId,
        type: event.type,
        timestamp: clientTime && clientTime.getTime() <= latest ? clientTime : received,
        receivedAt: received,
        url: wellFormedText(event.url),
        referrer: (event.referrer === undefined ? null : wellFormedText(event.referrer)),
        title: (event.title === undefined ? null : wellFormedText(event.title)),
        visitorId,
        sessionId: body.sessionId ?? null,
        value: event.value ?? null,
        currency: event.currency ?? null,
        properties: event.properties ? wellFormed(event.properties) : null,
        deviceType: device.type,
        deviceBrowser: device.browser,
        deviceOs: device.os,
      };
    });
    const outcome = await this.writer.write(rows, tag.status === 'waiting_for_events' ? [tag.id] : [], request.bodyBytes);
    return { stored: true, outcome, tag, issuedVisitor };
  }
}
