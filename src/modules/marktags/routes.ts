import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { IdempotencyHeadersSchema } from '../../schemas/common.js';
import { described, responses } from '../../schemas/responses.js';
import { partnerOf } from '../../plugins/partner-auth.js';
import {
  GenerateBodySchema,
  GenerateResponseSchema,
  TagDetailsSchema,
  TagParamsSchema,
  VerifyBodySchema,
  VerifyHeadersSchema,
  VerifyResponseSchema,
} from './schemas.js';
import type { MarktagsService } from './service.js';

export interface MarktagRoutesOptions {
  marktags: MarktagsService;
}

const tags = ['MarkTags'];
const security = [{ partnerToken: [] }];
const UNAUTHORIZED = { 401: ['Missing, invalid, or revoked token', 'UNAUTHORIZED'] } as const;
const IDEMPOTENCY = {
  409: ['The Idempotency-Key was used with a different request, or that request is still running', 'IDEMPOTENCY_CONFLICT'],
} as const;

export const marktagRoutes: FastifyPluginAsyncTypebox<MarktagRoutesOptions> = async (app, { marktags }) => {
  app.post(
    '/marktag/generate',
    {
      // marktag-api.txt: 401 is UNAUTHORIZED here; 500 is DATABASE_ERROR for a failed query, SERVICE_UNAVAILABLE otherwise.
      config: { authErrorCode: 'UNAUTHORIZED', internalErrorCode: 'SERVICE_UNAVAILABLE', databaseErrorCode: 'DATABASE_ERROR', idempotent: true },
      schema: {
        tags,
        security,
        operationId: 'generateMarktag',
        summary: 'Generate MarkTag',
        description:
          'Generate tracking implementation details for a specific domain. The system automatically detects whether the domain is preverified (under your partner domain, active at once) or a custom domain that needs the CNAME record and verification. Generating again for the same merchant and domain returns the existing tag ("Existing tag retrieved").',
        headers: IdempotencyHeadersSchema,
        body: GenerateBodySchema,
        response: responses(
          { 200: described('Success Response (200 OK): the new or existing tag', GenerateResponseSchema) },
          {
            400: ['Missing merchantId, invalid domain format, or unable to process domain', 'VALIDATION_ERROR'],
            ...UNAUTHORIZED,
            404: ["Merchant doesn't exist or doesn't belong to partner", 'MERCHANT_NOT_FOUND'],
            ...IDEMPOTENCY,
            500: [
              'DATABASE_ERROR: database error during operation; VALIDATION_ERROR: tag configuration incomplete; SERVICE_UNAVAILABLE: unable to process request',
              'DATABASE_ERROR',
              'VALIDATION_ERROR',
              'SERVICE_UNAVAILABLE',
            ],
            503: ['External tag service unavailable (the database cannot be reached); retry after Retry-After seconds', 'SERVICE_UNAVAILABLE'],
          },
          { rateLimited: true, jsonBody: true, idempotent: true },
        ),
      },
    },
    async (request) => marktags.generate(partnerOf(request), request.body.merchantId, request.body.domain),
  );

  app.post(
    '/marktag/verify',
    {
      // Not idempotency-cached: verifying is naturally idempotent, and a replayed 422 would refuse a
      // merchant who has since fixed the record. Every call checks DNS again.
      config: { authErrorCode: 'UNAUTHORIZED', internalErrorCode: 'DATABASE_ERROR' },
      schema: {
        tags,
        security,
        operationId: 'verifyMarktag',
        summary: 'Verify MarkTag',
        description:
          'Verify an existing MarkTag installation and update its status; only needed for custom merchant domains. Checks, in order, the CNAME chains of `<record>.<subdomain>`, `<subdomain>` and `<record>.<root domain>` for the CNAME target. On success the tag becomes `waiting_for_events` (an active tag stays active). Verifying is naturally idempotent: every call checks DNS again (an `Idempotency-Key` is accepted and ignored), so a retry after fixing the record succeeds. When another partner already holds a verified tag on the same registrable domain, a TXT record `_marktag.<root domain>` = `marktag-verify=<tagId>` is also required.',
        headers: VerifyHeadersSchema,
        body: VerifyBodySchema,
        response: responses(
          { 200: described('Success Response (200 OK): the tag is verified', VerifyResponseSchema) },
          {
            400: ['Invalid subdomain format, incomplete configuration, or verification failed', 'VALIDATION_ERROR'],
            ...UNAUTHORIZED,
            403: ["Partner doesn't own the merchant", 'ACCESS_DENIED'],
            404: ["Tag ID doesn't exist", 'TAG_NOT_FOUND'],
            422: ['DNS verification failed - check DNS configuration; `details` name every host checked and what it resolved to', 'VALIDATION_ERROR'],
            500: ['Database error during operation', 'DATABASE_ERROR'],
            503: [
              'EXTERNAL_SERVICE_ERROR: external verification service (DNS) unavailable; SERVICE_UNAVAILABLE: the database cannot be reached',
              'EXTERNAL_SERVICE_ERROR',
              'SERVICE_UNAVAILABLE',
            ],
          },
          { rateLimited: true, jsonBody: true },
        ),
      },
    },
    async (request) => marktags.verify(partnerOf(request), request.body.tagId, request.body.subdomain),
  );

  app.get(
    '/marktag/:tagId',
    {
      config: { authErrorCode: 'UNAUTHORIZED', internalErrorCode: 'SERVICE_UNAVAILABLE', databaseErrorCode: 'DATABASE_ERROR' },
      schema: {
        tags,
        security,
        operationId: 'getMarktag',
        summary: 'Get MarkTag',
        description: 'A tag of one of your merchants: its state, its DNS record, where it is installed, the snippet to install, and diagnostics (events the collector ignored, such as bots).',
        params: TagParamsSchema,
        response: responses(
          { 200: described('Success Response (200 OK): the tag', TagDetailsSchema) },
          {
            400: ['tagId is not a valid UUID', 'VALIDATION_ERROR'],
            ...UNAUTHORIZED,
            404: ["Tag doesn't exist or doesn't belong to partner", 'TAG_NOT_FOUND'],
            500: ['Database error during operation, or unable to process request', 'DATABASE_ERROR', 'SERVICE_UNAVAILABLE'],
            503: ['The database cannot be reached; retry after Retry-After seconds', 'SERVICE_UNAVAILABLE'],
          },
          { rateLimited: true, pathParams: true },
        ),
      },
    },
    async (request) => marktags.details(partnerOf(request).id, request.params.tagId),
  );
};
