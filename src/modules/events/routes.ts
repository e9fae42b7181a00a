import { Readable } from 'node:stream';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { errorResponses } from '../../schemas/common.js';
import { partnerOf } from '../../plugins/partner-auth.js';
import { CSV_HEADER, csvRow, ndjsonRow } from './export-format.js';
import { EventPageSchema, EventsQuerySchema, ExportQuerySchema, SummaryQuerySchema, SummarySchema } from './schemas.js';
import { toApiEvent, type EventsService } from './service.js';

export interface EventRoutesOptions {
  events: EventsService;
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

export const eventRoutes: FastifyPluginAsyncTypebox<EventRoutesOptions> = async (app, { events }) => {
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
        response: {
          200: EventPageSchema,
          ...errorResponses({ 400: ['Invalid parameters: a malformed date, from after to, a bad type, or a cursor of another query', 'VALIDATION_ERROR'], ...COMMON }),
        },
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
        response: {
          200: SummarySchema,
          ...errorResponses({ 400: ['Invalid parameters: a malformed date, from after to, an unknown time zone, or too many buckets', 'VALIDATION_ERROR'], ...COMMON }),
        },
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
        response: {
          200: Type.Unsafe<Readable>({ type: 'string', description: 'application/x-ndjson or text/csv' }),
          ...errorResponses({ 400: ['Invalid parameters', 'VALIDATION_ERROR'], ...COMMON }),
        },
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
