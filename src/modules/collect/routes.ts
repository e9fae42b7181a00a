import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { described, media, responseHeader, responses, withOwnHeaders } from '../../schemas/responses.js';
import { errorCodeOf } from '../../errors.js';
import { REJECTION_CODES } from '../diagnostics/schemas.js';
import type { TagCounter } from '../diagnostics/tag-counter.js';
import type { Metrics } from '../metrics/metrics.js';
import { CollectBodySchema, CollectQuerySchema, CollectResponseSchema, LIMITS } from './schemas.js';
import type { CollectService } from './service.js';
import { trackerEncoding, type TrackerAsset } from './tracker-asset.js';

export interface CollectRoutesOptions {
  collector: CollectService;
  tracker: TrackerAsset;
  counter: TagCounter;
  metrics?: Metrics;
}

export const VISITOR_COOKIE = 'mtag_vid';
const VISITOR_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
const ONE_YEAR_SECONDS = 365 * 24 * 60 * 60;
const tags = ['Collector'];
const TRACKER_ETAG = responseHeader('The version of the script: send it back in If-None-Match', { type: 'string', examples: ['"k3Jx9b0bWdQ8e3fHq1r2s3t4u5v"'] }, { required: true });
const TRACKER_CACHE = responseHeader('Cacheable for 5 minutes, then revalidated', { type: 'string', examples: ['public, max-age=300, stale-while-revalidate=86400'] }, { required: true });
const TRACKER_VARY = responseHeader('The answer depends on Accept-Encoding (and Origin)', { type: 'string', examples: ['Origin, Accept-Encoding'] }, { required: true });
const TRACKER_ENCODING = responseHeader('br or gzip, as Accept-Encoding allows (brotli preferred); absent for the plain script', { type: 'string', enum: ['br', 'gzip'] }, { required: false });

/** The one cookie the collector reads; the merchant site's other cookies are never parsed or kept. */
function visitorFromCookie(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === VISITOR_COOKIE) {
      const id = value.join('=');
      return VISITOR_PATTERN.test(id) ? id : undefined;
    }
  }
  return undefined;
}

function visitorCookie(id: string, secure: boolean): string {
  return `${VISITOR_COOKIE}=${id}; Max-Age=${ONE_YEAR_SECONDS}; Path=/; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}

/**
 * The body's size for the batch writer's byte bound. Fastify checks that what arrived matches
 * Content-Length, so the header is the truth; a chunked body (no header) counts as the most it
 * may be.
 */
function bodyBytes(request: FastifyRequest): number {
  const declared = Number(request.headers['content-length']);
  return Number.isSafeInteger(declared) && declared >= 0 ? declared : LIMITS.bodyBytes;
}

/** CORS for the collector only: the page's origin echoed (never `*`, since cookies go along). */
function allowOrigin(request: FastifyRequest, reply: FastifyReply): void {
  const origin = request.headers.origin;
  if (origin === undefined) return;
  // Retry-After is readable by the tracker, which honours it on a 429 or 503.
  void reply.header('access-control-allow-origin', origin).header('access-control-allow-credentials', 'true').header('access-control-expose-headers', 'Retry-After');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A tag id, when the value is one. */
const asTagId = (value: unknown): string | undefined => (typeof value === 'string' && UUID.test(value) ? value.toLowerCase() : undefined);

/** The tag a request body names, when it was read and names one. */
function tagIn(body: unknown): string | undefined {
  return asTagId((body as { tagId?: unknown } | null | undefined)?.tagId);
}

/** Events in a request body, when it was read at all (a refusal may come before: rate limit, size, bad JSON). */
function eventsIn(body: unknown): number {
  const events = (body as { events?: unknown } | null | undefined)?.events;
  return Array.isArray(events) ? events.length : 0;
}

/** The tracker script and the collector: served on the tag host (the CNAME lands there) and the API host alike. */
export const collectRoutes: FastifyPluginAsyncTypebox<CollectRoutesOptions> = async (app, { collector, tracker, counter, metrics }) => {
  // sendBeacon posts text/plain (no CORS preflight); its body is the same JSON.
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(Object.assign(new SyntaxError('Request body is not valid JSON'), { statusCode: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' }), undefined);
    }
  });
  // Callback-style hooks (no promise per hook and request): this is the busiest path.
  app.addHook('onRequest', (_request, reply, done) => {
    void reply.header('vary', 'Origin');
    done();
  });
  // The page may read every answer but a refusal of its origin (or of an unverified tag).
  app.addHook('onSend', (request, reply, payload, done) => {
    if (request.method === 'POST' && reply.statusCode !== 403) allowOrigin(request, reply);
    done(null, payload);
  });

  app.get(
    '/mtag.js',
    {
      logLevel: 'warn',
      schema: {
        tags,
        operationId: 'trackerScript',
        summary: 'The tracker script',
        description:
          'Install it on every page with the `snippet` of the tag details: an async script from `https://<trackingHost>/mtag.js` carrying the tag id in `data-tag-id`. Sent brotli- or gzip-compressed as Accept-Encoding allows (`Vary: Accept-Encoding`; each encoding has its own ETag). Cacheable; revalidate with If-None-Match.',
        security: [],
        response: responses(
          {
            200: withOwnHeaders(media('The tracker script', { 'application/javascript': Type.String() }), {
              etag: TRACKER_ETAG,
              'cache-control': TRACKER_CACHE,
              vary: TRACKER_VARY,
              'content-encoding': TRACKER_ENCODING,
            }),
            304: withOwnHeaders(Type.Null({ description: 'Not modified: the copy of If-None-Match is current' }), { etag: TRACKER_ETAG, vary: TRACKER_VARY }),
          },
          {},
        ),
      },
    },
    async (request, reply) => {
      const encoding = trackerEncoding(request.headers);
      const variant = tracker[encoding];
      void reply
        .header('vary', 'Origin, Accept-Encoding')
        .header('etag', variant.etag)
        .header('cache-control', 'public, max-age=300, stale-while-revalidate=86400')
        .header('access-control-allow-origin', '*');
      if (request.headers['if-none-match'] === variant.etag) return reply.code(304).send(null);
      if (encoding !== 'identity') void reply.header('content-encoding', encoding);
      return reply.type('application/javascript; charset=utf-8').send(variant.body);
    },
  );

  app.options('/v1/collect', { schema: { hide: true } }, async (request, reply) => {
    allowOrigin(request, reply);
    return reply
      .header('access-control-allow-methods', 'POST, OPTIONS')
      .header('access-control-allow-headers', 'content-type')
      .header('access-control-max-age', '86400')
      .code(204)
      .send();
  });

  app.addHook('onResponse', (request, reply, done) => {
    if (request.method === 'POST' && reply.statusCode >= 400) {
      const events = eventsIn(request.body);
      metrics?.collectorEvents.inc({ outcome: 'refused' }, events);
      // For the tag's diagnostics, when the request named one: in its body, or (a body over the
      // limit is never read) in the URL's `t`. Counts of ids that are no tag are dropped at the write.
      const code = errorCodeOf(reply);
      const tagId = tagIn(request.body) ?? asTagId((request.query as { t?: unknown } | undefined)?.t);
      if (tagId !== undefined && code !== undefined && (REJECTION_CODES as readonly string[]).includes(code)) {
        counter.add(tagId, `rejected:${code}`, Math.max(1, events), new Date());
      }
    }
    done();
  });

  app.post(
    '/v1/collect',
    {
      bodyLimit: LIMITS.bodyBytes,
      // The busiest route: no access line per request (faults are still logged).
      logLevel: 'warn',
      // Per-tag quota (defaults from limitPerTag, when it is registered); the body types named in a 415 (sendBeacon sends text/plain).
      config: { internalErrorCode: 'SERVICE_UNAVAILABLE', limitPerTag: true, accepts: ['application/json', 'text/plain'] },
      schema: {
        tags,
        security: [],
        // sendBeacon sends the same JSON as text/plain (no CORS preflight).
        consumes: ['application/json', 'text/plain'],
        operationId: 'collect',
        querystring: CollectQuerySchema,
        summary: 'Collect events',
        description:
          'Called by the tracker from merchant pages (JSON or text/plain JSON, at most 64 KiB and 100 events). Answers 202 only after the events are committed; `eventId` makes replays harmless. Without a `visitorId`, the first-party cookie `mtag_vid` identifies the visitor (issued when absent). For browsers only: a request without a browser user agent (a bot, a crawler, a headless browser, curl, a shop\'s back end) is answered 202 with `accepted: 0` and `x-marktag-ignored: bot`, nothing is stored, and its events are counted in the tag\'s `diagnostics.ignoredEvents.bot`. Server-side senders must use the server-side events API (coming) rather than this endpoint.',
        body: CollectBodySchema,
        response: responses(
          {
            202: withOwnHeaders(described('Success Response (202 Accepted): the events are stored', CollectResponseSchema), {
              'x-marktag-ignored': responseHeader('Why nothing was stored although the answer is 202: "bot" for a crawler or a missing user agent', { type: 'string', enum: ['bot'] }, { required: false }),
              'set-cookie': responseHeader(`The first-party visitor cookie ${VISITOR_COOKIE} (HttpOnly, SameSite=Lax, one year), when the body has no visitorId and the request had none`, { type: 'string' }, { required: false }),
            }),
          },
          {
            400: ['Malformed body or an invalid event; `details` name the field', 'VALIDATION_ERROR'],
            403: [
              'TAG_NOT_VERIFIED: the tag is not verified or no longer connected; ORIGIN_NOT_ALLOWED: the page is not on the tag\'s domain',
              'TAG_NOT_VERIFIED',
              'ORIGIN_NOT_ALLOWED',
            ],
            404: ['No such tag', 'TAG_NOT_FOUND'],
            413: ['Body over 64 KiB', 'PAYLOAD_TOO_LARGE'],
            429: ['Too many requests for this tag: retry after Retry-After seconds', 'RATE_LIMITED'],
            415: ['Body neither application/json nor text/plain', 'UNSUPPORTED_MEDIA_TYPE'],
            500: ['Unexpected failure: logged with its request id; nothing was acknowledged', 'SERVICE_UNAVAILABLE'],
            503: ['The events could not be stored: nothing was kept, retry after Retry-After seconds', 'SERVICE_UNAVAILABLE'],
          },
          { rateLimited: true },
        ),
      },
    },
    async (request, reply) => {
      void reply.header('cache-control', 'no-store');
      const result = await collector.collect({
        body: request.body,
        origin: request.headers.origin,
        userAgent: request.headers['user-agent'],
        cookieVisitor: visitorFromCookie(request.headers.cookie),
        receivedAt: new Date(),
        bodyBytes: bodyBytes(request),
        clientAddress: request.ip,
      });
      if (!result.stored) {
        metrics?.collectorEvents.inc({ outcome: 'ignored' }, request.body.events.length);
        return reply.code(202).header('x-marktag-ignored', result.reason).send({ accepted: 0, duplicates: 0 });
      }
      metrics?.collectorEvents.inc({ outcome: 'accepted' }, result.outcome.accepted - result.outcome.duplicates);
      metrics?.collectorEvents.inc({ outcome: 'duplicate' }, result.outcome.duplicates);
      if (result.issuedVisitor) void reply.header('set-cookie', visitorCookie(result.issuedVisitor, request.protocol === 'https'));
      return reply.code(202).send(result.outcome);
    },
  );
};
