import { createHash, randomUUID } from 'node:crypto';
import { ApiError, type ErrorDetail } from '../../errors.js';
import type { BatchWriter, WriteOutcome } from '../collect/batch-writer.js';
import { validateEvents, wellFormed, wellFormedOrNull } from '../collect/event-checks.js';
import { LIMITS } from '../collect/event-rules.js';
import { DIRECT_ATTRIBUTION, type EventRecord, type StoredAttribution } from '../collect/repository.js';
import { attributePage } from '../attribution/attribute.js';
import type { TagCounter } from '../diagnostics/tag-counter.js';
import { hashTraits } from '../identity/traits.js';
import type { ServerEventsRepository } from './repository.js';
import { SERVER_LIMITS, type ServerEvent, type ServerEventsBody } from './schemas.js';

/** A server event without a session inherits the visitor's session that started this long before it at most. */
export const SESSION_INHERIT_MS = 30 * 60 * 1000;

/**
 * The visitor of a user no browser has identified as: derived from the user id, so that all its
 * server events share one visitor (and the ids stay in the visitor id alphabet).
 */
function userVisitor(userId: string): string {
  return `u_${createHash('sha256').update(userId).digest('base64url').slice(0, 27)}`;
}

function checkEvents(events: ServerEvent[], receivedAt: Date): void {
  const details: ErrorDetail[] = [];
  const oldest = receivedAt.getTime() - SERVER_LIMITS.pastMs;
  events.forEach((event, index) => {
    if (event.visitorId === undefined && event.userId === undefined) {
      details.push({ field: `events.${index}`, message: `events.${index} needs a visitorId or a userId` });
    }
    if (event.timestamp !== undefined && new Date(event.timestamp).getTime() < oldest) {
      details.push({ field: `events.${index}.timestamp`, message: `events.${index}.timestamp must be at most 7 days in the past` });
    }
  });
  if (details.length > 0) throw new ApiError(400, 'VALIDATION_ERROR', details[0]?.message ?? 'Invalid events', details);
}

/**
 * Server-side ingestion (contracts/server-events.md): events a partner's back end saw, stored with
 * the collector's durability and deduplication (the same batch writer and event keys, so a purchase
 * sent by the tracker and by the server with one eventId is stored once), never bot-filtered,
 * without touching the tag's state. Identity and attribution as for browser events; an event with
 * no session takes the attribution of its visitor's latest session of the last 30 minutes.
 */
export class ServerEventsService {
  constructor(
    private readonly repository: ServerEventsRepository,
    private readonly writer: BatchWriter,
    private readonly counter: TagCounter,
  ) {}

  async ingest(partnerId: string, body: ServerEventsBody, receivedAt: Date, bytes: number): Promise<WriteOutcome> {
    validateEvents(body.events);
    checkEvents(body.events, receivedAt);
    const tag = await this.repository.tag(partnerId, body.tagId);
    if (!tag) throw ApiError.notFound('TAG_NOT_FOUND', 'Tag not found');

    const anonymous = [...new Set(body.events.filter((e) => e.visitorId === undefined).map((e) => e.userId ?? ''))];
    const visitorOfUser = await this.repository.visitorsOfUsers(partnerId, tag.merchantId, anonymous);
    const latest = receivedAt.getTime() + LIMITS.futureSkewMs;

    const drafts = body.events.map((event) => {
      const clientTime = event.timestamp === undefined ? undefined : new Date(event.timestamp);
      const timestamp = clientTime && clientTime.getTime() <= latest ? clientTime : receivedAt;
      const userId = event.userId ?? null;
      const visitorId = event.visitorId ?? (userId === null ? '' : (visitorOfUser.get(userId) ?? userVisitor(userId)));
      const page = event.url === undefined ? undefined : attributePage(event.url, event.referrer, tag.keepQueryParams);
      return { event, timestamp, userId, visitorId, page };
    });

    // Without a session and without a campaign of its own, an event inherits its visitor's latest session.
    const inheriting = drafts.flatMap((draft, index) => (draft.event.sessionId === undefined && !draft.page?.ownCampaign ? [index] : []));
    const inherited = await this.repository.latestSessions(
      partnerId,
      tag.merchantId,
      inheriting.map((index) => {
        const draft = drafts[index];
        return { visitorId: draft?.visitorId ?? null, userId: draft?.userId ?? null, at: draft?.timestamp ?? receivedAt };
      }),
      SESSION_INHERIT_MS,
    );
    const inheritedBy = new Map<number, StoredAttribution>();
    inheriting.forEach((draftIndex, probeIndex) => {
      const found = inherited.get(probeIndex);
      if (found) inheritedBy.set(draftIndex, found);
    });

    const rows: EventRecord[] = drafts.map(({ event, timestamp, userId, visitorId, page }, index) => {
      const traits = hashTraits(event.user);
      const own = page?.attribution ?? DIRECT_ATTRIBUTION;
      return {
        eventId: event.eventId?.toLowerCase() ?? randomUUID(),
        tagId: tag.id,
        merchantId: tag.merchantId,
        partnerId,
        type: event.type,
        timestamp,
        receivedAt,
        url: page?.url ?? null,
        referrer: page?.referrer ?? null,
        title: wellFormedOrNull(event.title),
        visitorId,
        sessionId: event.sessionId ?? null,
        value: event.value ?? null,
        currency: event.currency ?? null,
        properties: event.properties ? wellFormed(event.properties) : null,
        deviceType: null,
        deviceBrowser: null,
        deviceOs: null,
        source: 'server',
        userId,
        country: event.country ?? null,
        attribution: inheritedBy.get(index) ?? own,
        // In a session, the write gives it the session's attribution unless it brings a campaign of its own.
        ownAttribution: event.sessionId === undefined || (page?.ownCampaign ?? false),
        emailSha256: traits.emailSha256,
        phoneSha256: traits.phoneSha256,
      };
    });
    const outcome = await this.writer.write(rows, [], bytes);
    this.counter.stored(tag.id, 'server', outcome.accepted, outcome.duplicates, new Date());
    return outcome;
  }
}
