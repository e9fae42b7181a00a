import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { described, responses } from '../../schemas/responses.js';
import { partnerOf } from '../../plugins/partner-auth.js';
import { TagParamsSchema } from '../marktags/schemas.js';
import { TagDiagnosticsReportSchema } from './schemas.js';
import type { DiagnosticsService } from './service.js';

export interface DiagnosticsRoutesOptions {
  diagnostics: DiagnosticsService;
}

export const diagnosticsRoutes: FastifyPluginAsyncTypebox<DiagnosticsRoutesOptions> = async (app, { diagnostics }) => {
  app.get(
    '/marktag/:tagId/diagnostics',
    {
      config: { authErrorCode: 'UNAUTHORIZED', internalErrorCode: 'SERVICE_UNAVAILABLE', databaseErrorCode: 'DATABASE_ERROR' },
      schema: {
        tags: ['MarkTags'],
        security: [{ partnerToken: [] }],
        operationId: 'getMarktagDiagnostics',
        summary: 'MarkTag diagnostics',
        description:
          'Why a merchant\'s events do or do not arrive: over the last 24 hours (hourly), the events stored and their replays, those answered but not stored (bots, suppressed visitors) and those refused by error code, with when the tag last stored a browser and a server event. Each server process counts in memory and adds its counts every 5 seconds, so the figures may be a few seconds late.',
        params: TagParamsSchema,
        response: responses(
          { 200: described('Success Response (200 OK): the tag\'s last 24 hours', TagDiagnosticsReportSchema) },
          {
            400: ['tagId is not a valid UUID', 'VALIDATION_ERROR'],
            401: ['Missing, invalid, or revoked token', 'UNAUTHORIZED'],
            404: ["Tag doesn't exist or doesn't belong to partner", 'TAG_NOT_FOUND'],
            500: ['Database error during operation, or unable to process request', 'DATABASE_ERROR', 'SERVICE_UNAVAILABLE'],
            503: ['The database cannot be reached; retry after Retry-After seconds', 'SERVICE_UNAVAILABLE'],
          },
          { rateLimited: true, pathParams: true },
        ),
      },
    },
    async (request) => diagnostics.report(partnerOf(request).id, request.params.tagId),
  );
};
