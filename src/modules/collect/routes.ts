import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { described, media, responseHeader, responses, withOwnHeaders } from '../../schemas/responses.js';
import { CollectBodySchema, CollectResponseSchema, LIMITS } from './schemas.js';
import type { CollectService } from './service.js';
import type { TrackerAsset } from './tracker-asset.js';

export interface CollectRoutesOptions {
  collector: CollectService;
  tracker: TrackerAsset;
}

export const VISITOR_COOKIE = 'mtag_vid';
const VISITOR_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
const ONE_YEAR_SECONDS = 365 * 24 * 60 * 60;
const tags = ['Collector'];
const TRACKER_ETAG = responseHeader('The version of the script: send it back in If-None-Match', { type: 'string', examples: ['"k3Jx9b0bWdQ8e3fHq1r2s3t4u5v"'] }, { required: true });
const TRACKER_CACHE = responseHeader('Cacheable for 5 minutes, then revalidated', { type: 'string', examples: ['public, max-age=300, stale-while-revalidate=86400'] }, { required: true });

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

/** CORS for the collector only: the page's origin echoed (never `*`, since cookies go along). */
function allowOrigin(request: FastifyRequest, reply: FastifyReply): void {
  const origin = request.headers.origin;
  if (origin === undefined) return;
  void reply.header('access-control-allow-origin', origin).header('access-control-allow-credentials', 'true');
}

/** The tracker script and the collector: served on the tag host (the CNAME lands there) and the API host alike. */
export const collectRoutes: FastifyPluginAsyncTypebox<CollectRoutesOptions> = async (app, { collector, tracker }) => {
  // sendBeacon posts text/plain (no CORS preflight); its body is the same JSON.
  app.addContentTypeParser('text/plain', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(Object.assign(new SyntaxError('Request body is not valid JSON'), { statusCode: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' }), undefined);
    }
  });
  app.addHook('onRequest', async (_request, reply) => {
    void reply.header('vary', 'Origin');
  });
  // The page may read every answer but a refusal of its origin (or of an unverified tag).
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.method === 'POST' && reply.statusCode !== 403) allowOrigin(request, reply);
    return payload;
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
          'Install it on every page with the `snippet` of the tag details: an async script from `https://<trackingHost>/mtag.js` carrying the tag id in `data-tag-id`. Cacheable; revalidate with If-None-Match.',
        security: [],
        response: responses(
          {
            200: withOwnHeaders(media('The tracker script', { 'application/javascript': Type.String() }), { etag: TRACKER_ETAG, 'cache-control': TRACKER_CACHE }),
            304: withOwnHeaders(Type.Null({ description: 'Not modified: the copy of If-None-Match is current' }), { etag: TRACKER_ETAG }),
          },
          {},
        ),
      },
    },
    async (request, reply) => {
      void reply
        .header('etag', tracker.etag)
        .header('cache-control', 'public, max-age=300, stale-while-revalidate=86400')
        .header('access-control-allow-origin', '*');
      if (request.headers['if-none-match'] === tracker.etag) return reply.code(304).send(null);
      return reply.type('application/javascript; charset=utf-8').send(tracker.body);
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

  app.post(
    '/v1/collect',
    {
      bodyLimit: LIMITS.bodyBytes,
      // The busiest route: no access line per request (faults are still logged).
      logLevel: 'warn',
      // Per-tag quota (defaults from limitPerTag, when it is registered).
      config: { internalErrorCode: 'SERVICE_UNAVAILABLE', rateLimit: {} },
      schema: {
        tags,
        security: [],
        // sendBeacon sends the same JSON as text/plain (no CORS preflight).
        consumes: ['application/json', 'text/plain'],
        operationId: 'collect',
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
      });
      if (!result.stored) {
        return reply.code(202).header('x-marktag-ignored', result.reason).send({ accepted: 0, duplicates: 0 });
      }
      if (result.issuedVisitor) void reply.header('set-cookie', visitorCookie(result.issuedVisitor, request.protocol === 'https'));
      return reply.code(202).send(result.outcome);
    },
  );
};
