import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { described, media, responseHeader, responses, withOwnHeaders } from '../../schemas/responses.js';
import { partnerOf } from '../../plugins/partner-auth.js';
import { CSV_HEADER, csvRow, ndjsonRow } from './export-format.js';
import { ApiError } from '../../errors.js';
import type { EventsRepository } from './repository.js';
import { EventPageSchema, EventsQuerySchema, ExportQuerySchema, StreamQuerySchema, SummaryQuerySchema, SummarySchema } from './schemas.js';
import { isDatabaseUnavailable } from '../../db/errors.js';
import { OUTAGE_RETRY_MS, SseStream, unavailableMessage, type SseOptions } from './sse-stream.js';
import type { StreamHub } from './stream-hub.js';
import { toApiEvent, type EventsService } from './service.js';

export interface EventRoutesOptions {
  events: EventsService;
  hub: StreamHub;
  repository: EventsRepository;
  sse: SseOptions;
}

const tags = ['Events'];
const security = [{ partnerToken: [] }];
const config = { authErrorCode: 'AUTHENTICATION_ERROR', internalErrorCode: 'SERVICE_ERROR' } as const;
const COMMON = {
  401: ['Missing, invalid or revoked Bearer token', 'AUTHENTICATION_ERROR'],
  404: ["The merchant or tag doesn't exist or doesn't belong to partner", 'MERCHANT_NOT_FOUND', 'TAG_NOT_FOUND'],
  500: ['Unable to process request', 'SERVICE_ERROR'],
  503: ['The database is unreachable; retry after Retry-After seconds', 'SERVICE_UNAVAILABLE'],
} as const;
/** The stream answers an outage with a 200 event stream that says "retry" (see its description), never 503. */
const { 503: _streamOutage, ...STREAM_COMMON } = COMMON;
/** What an event stream answers with, whether it streams events or only says when to reconnect. */
const STREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
};

const LAST_EVENT_ID = /^\d{1,19}$/;

export const eventRoutes: FastifyPluginAsyncTypebox<EventRoutesOptions> = async (app, { events, hub, repository, sse }) => {
  app.get(
    '/events/stream',
    {
      config,
      // A standard EventSource gives up for good on any answer but a 200 event stream. So a
      // database outage met before the stream starts (the token look-up, the merchant or tag
      // check) is told as a 200 stream holding only "retry, then reconnect": the client comes back
      // by itself with its Last-Event-ID. Every other error keeps its status and envelope.
      errorHandler: (error, request, reply) => {
        if (!isDatabaseUnavailable(error)) throw error;
        request.log.warn({ err: error }, 'stream asked to reconnect: the database is unreachable');
        void reply.code(200).headers(STREAM_HEADERS).send(unavailableMessage(OUTAGE_RETRY_MS));
      },
      schema: {
        tags,
        security,
        operationId: 'streamEvents',
        summary: 'Live stream',
        description:
          'Server-Sent Events: each event as `id: <event id>`, `event: event`, `data: <event JSON>`; a `: heartbeat` comment every 15 seconds. Reconnect with the `Last-Event-ID` header (or `lastEventId`) to first receive every matching event after it from the database, then the live ones: nothing is missed or repeated across a disconnect. A consumer that falls too far behind is disconnected (reconnect to resume). At most 20 open streams per partner (429 beyond). While the database is unreachable the stream does not answer 503 (a standard EventSource would stop for good): it answers 200 `text/event-stream` with only `retry: 5000` and `event: error` (`data: {"code":"SERVICE_UNAVAILABLE","reason":…}`), then closes, so EventSource reconnects by itself with its Last-Event-ID and resumes without missing or repeating an event; an open stream that loses the database ends the same way. Authentication and validation errors keep their status (401, 400, 404, 429).',
        querystring: StreamQuerySchema,
        headers: Type.Object({
          'last-event-id': Type.Optional(
            Type.String({ pattern: '^\\d{1,19}$', 'x-error-message': 'must be an event id', description: 'Resume after this event id' }),
          ),
        }),
        response: responses(
          {
            200: media('The live stream: `id:`, `event: event` and `data: <event JSON>` per event, `: heartbeat` comments', {
              'text/event-stream': Type.String({ examples: ['id: 1042\nevent: event\ndata: {"id":"1042","type":"purchase"}\n\n'] }),
            }),
          },
          {
            400: ['Invalid parameters', 'VALIDATION_ERROR'],
            ...STREAM_COMMON,
            429: ['Too many requests for this token, or too many open streams for this partner', 'RATE_LIMITED'],
          },
          { rateLimited: true },
        ),
      },
    },
    async (request, reply) => {
      const partnerId = partnerOf(request).id;
      const filters = await events.filters(partnerId, { merchantId: request.query.merchantId, tagId: request.query.tagId, type: request.query.type });
      const resumeFrom = request.headers['last-event-id'] ?? request.query.lastEventId;
      if (!hub.canOpen(partnerId)) {
        throw new ApiError(429, 'RATE_LIMITED', 'Too many open streams for this partner: close one first', undefined, { 'retry-after': '5' });
      }
      reply.hijack();
      reply.raw.writeHead(200, { ...STREAM_HEADERS, connection: 'keep-alive', 'x-request-id': request.id });
      const stream = new SseStream(partnerId, filters, reply.raw, hub, repository, sse);
      try {
        await stream.open(resumeFrom !== undefined && LAST_EVENT_ID.test(resumeFrom) ? BigInt(resumeFrom) : undefined);
      } catch (error) {
        // Headers are sent: the failure can only be told in the stream itself.
        request.log.warn({ err: error }, 'stream could not start');
        stream.fail();
      }
    },
  );

  app.get(
    '/events',
    {
      config,
      schema: {
        tags,
        security,
        operationId: 'listEvents',
        summary: 'Query events',
        description:
          'Events of your merchants, newest first by event time (ties by id), with keyset pagination: pass `pagination.nextCursor` as `cursor` for the next page. Pages never repeat or skip an event while new ones arrive. Without `merchantId`, all your merchants; without `from`, the last 30 days.',
        querystring: EventsQuerySchema,
        response: responses(
          { 200: described('Success Response (200 OK): a page of events, newest first', EventPageSchema) },
          { 400: ['Invalid parameters: a malformed date, from after to, a bad type, or a cursor of another query', 'VALIDATION_ERROR'], ...COMMON },
          { rateLimited: true },
        ),
      },
    },
    async (request) => events.list(partnerOf(request).id, request.query),
  );

  app.get(
    '/events/summary',
    {
      config,
      schema: {
        tags,
        security,
        operationId: 'summarizeEvents',
        summary: 'Conversion summary',
        description:
          'Totals (events, distinct visitors and sessions, page views, conversions and conversion value per currency), counts by type, and a time series of `hour` or `day` buckets in the given IANA time zone, empty buckets included. Conversions are the types purchase, lead, sign_up, subscribe and start_trial.',
        querystring: SummaryQuerySchema,
        response: responses(
          { 200: described('Success Response (200 OK): the summary of the range', SummarySchema) },
          { 400: ['Invalid parameters: a malformed date, from after to, an unknown time zone, or too many buckets', 'VALIDATION_ERROR'], ...COMMON },
          { rateLimited: true },
        ),
      },
    },
    async (request) => events.summary(partnerOf(request).id, request.query),
  );

  app.get(
    '/events/export',
    {
      config,
      schema: {
        tags,
        security,
        operationId: 'exportEvents',
        summary: 'Export events',
        description:
          'Every event matching the filters (as for the query, newest first), streamed as NDJSON or CSV in constant memory, as a file download.',
        querystring: ExportQuerySchema,
        response: responses(
          {
            200: withOwnHeaders(
              media('The events as a file: one JSON event a line (format=ndjson), or CSV with a header row (format=csv)', {
                'application/x-ndjson': Type.String({ examples: ['{"id":"1042","type":"purchase"}\n'] }),
                'text/csv': Type.String({ examples: [`${CSV_HEADER}`] }),
              }),
              {
                'content-disposition': responseHeader(
                  'A file download named after the merchant and the day',
                  { type: 'string', examples: ['attachment; filename="marktag-events-all-2025-01-25.ndjson"'] },
                  { required: true },
                ),
              },
            ),
          },
          { 400: ['Invalid parameters', 'VALIDATION_ERROR'], ...COMMON },
          { rateLimited: true },
        ),
      },
    },
    async (request, reply) => {
      const partnerId = partnerOf(request).id;
      const filters = await events.exportFilters(partnerId, request.query);
      const format = request.query.format;
      const day = new Date().toISOString().slice(0, 10);
      const name = `marktag-events-${filters.merchantId ?? 'all'}-${day}.${format}`;
      async function* lines(): AsyncGenerator<string> {
        if (format === 'csv') yield CSV_HEADER;
        for await (const chunk of events.export(partnerId, filters)) {
          yield chunk.map((row) => (format === 'csv' ? csvRow(toApiEvent(row)) : ndjsonRow(toApiEvent(row)))).join('');
        }
      }
      return reply
        .type(format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8')
        .header('content-disposition', `attachment; filename="${name}"`)
        .header('cache-control', 'no-store')
        .send(Readable.from(lines()));
    },
  );
};
