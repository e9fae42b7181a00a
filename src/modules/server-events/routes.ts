import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { described, responses } from '../../schemas/responses.js';
import { partnerOf } from '../../plugins/partner-auth.js';
import type { Metrics } from '../metrics/metrics.js';
import { SERVER_LIMITS, ServerEventsBodySchema, ServerEventsResponseSchema } from './schemas.js';
import type { ServerEventsService } from './service.js';

export interface ServerEventRoutesOptions {
  serverEvents: ServerEventsService;
  metrics?: Metrics;
}

const config = { authErrorCode: 'AUTHENTICATION_ERROR', internalErrorCode: 'SERVICE_UNAVAILABLE' } as const;

export const serverEventRoutes: FastifyPluginAsyncTypebox<ServerEventRoutesOptions> = async (app, { serverEvents, metrics }) => {
  app.post(
    '/events',
    {
      bodyLimit: SERVER_LIMITS.bodyBytes,
      config,
      schema: {
        tags: ['Events'],
        security: [{ partnerToken: [] }],
        operationId: 'sendServerEvents',
        summary: 'Send server-side events',
        description: `Events your back end saw (a payment confirmed, a lead qualified), up to ${SERVER_LIMITS.events} a request and 1 MiB. Answers 202 only after they are committed, with the collector's durability; \`eventId\` makes retries harmless, and an event the tracker already sent with the same \`eventId\` (pixel + server, as ad platforms deduplicate) is stored once and counted in \`duplicates\`. Every event needs a \`visitorId\` or a \`userId\`; without a \`visitorId\` it goes to the visitor who last identified as that user in the browser. \`timestamp\` may be up to 7 days in the past (and, as on the collector, a time more than 5 minutes ahead is replaced by the receive time). Never bot-filtered; the tag may be in any state and does not change it. \`user.email\` and \`user.phone\` are normalised and kept only as SHA-256 (or send \`emailSha256\`/\`phoneSha256\` yourself). An event without a \`sessionId\` and without a campaign of its own takes the attribution of its visitor's latest session that started at most 30 minutes before it (else Direct). Stored with \`source: "server"\`.`,
        body: ServerEventsBodySchema,
        response: responses(
          { 202: described('Accepted (202): the events are stored', ServerEventsResponseSchema) },
          {
            400: ['Malformed body or an invalid event; `details` name the field (`events.N` for an event with neither visitorId nor userId)', 'VALIDATION_ERROR'],
            401: ['Missing, invalid or revoked Bearer token', 'AUTHENTICATION_ERROR'],
            404: ["The tag doesn't exist or doesn't belong to partner", 'TAG_NOT_FOUND'],
            500: ['Unexpected failure: logged with its request id; nothing was acknowledged', 'SERVICE_UNAVAILABLE'],
            503: ['The events could not be stored: nothing was kept, retry after Retry-After seconds', 'SERVICE_UNAVAILABLE'],
          },
          { rateLimited: true, jsonBody: true },
        ),
      },
    },
    async (request, reply) => {
      const declared = Number(request.headers['content-length']);
      const bytes = Number.isSafeInteger(declared) && declared >= 0 ? declared : SERVER_LIMITS.bodyBytes;
      const outcome = await serverEvents.ingest(partnerOf(request).id, request.body, new Date(), bytes);
      metrics?.collectorEvents.inc({ outcome: 'accepted' }, outcome.accepted - outcome.duplicates);
      metrics?.collectorEvents.inc({ outcome: 'duplicate' }, outcome.duplicates);
      return reply.code(202).header('cache-control', 'no-store').send(outcome);
    },
  );
};
