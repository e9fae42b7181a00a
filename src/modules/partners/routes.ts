import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { described, responses } from '../../schemas/responses.js';
import { partnerOf } from '../../plugins/partner-auth.js';
import { MeSchema } from './schemas.js';

/** `GET /v1/partners/me`: the "test your connection" call of the Quick Start. */
export const partnerRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/me',
    {
      config: { authErrorCode: 'AUTHENTICATION_ERROR', internalErrorCode: 'SERVICE_ERROR' },
      schema: {
        tags: ['Partner'],
        security: [{ partnerToken: [] }],
        operationId: 'getMe',
        summary: 'Test your connection',
        description: 'Answers with the partner the Bearer token belongs to. Use it to check a token.',
        response: responses(
          { 200: described('Success Response (200 OK): the partner of the token', MeSchema) },
          {
            401: ['Missing, invalid or revoked Bearer token', 'AUTHENTICATION_ERROR'],
            500: ['Unable to process request', 'SERVICE_ERROR'],
            503: ['The database is unreachable; retry after Retry-After seconds', 'SERVICE_UNAVAILABLE'],
          },
          { rateLimited: true },
        ),
      },
    },
    async (request) => {
      const partner = partnerOf(request);
      return { partnerId: partner.id, name: partner.name, domain: partner.domain };
    },
  );
};
