import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { IdempotencyHeadersSchema, PageQuerySchema } from '../../schemas/common.js';
import { described, responses } from '../../schemas/responses.js';
import { partnerOf } from '../../plugins/partner-auth.js';
import {
  CreateMerchantBodySchema,
  CreateMerchantResponseSchema,
  MerchantDetailsSchema,
  MerchantListSchema,
  MerchantParamsSchema,
  UpdateMerchantBodySchema,
} from './schemas.js';
import type { MerchantsService } from './service.js';

export interface MerchantRoutesOptions {
  merchants: MerchantsService;
}

const tags = ['Merchants'];
const security = [{ partnerToken: [] }];
/** The error codes merchants-api.txt documents for every merchant endpoint. */
const config = { authErrorCode: 'AUTHENTICATION_ERROR', internalErrorCode: 'SERVICE_ERROR' } as const;
const COMMON = {
  401: ['Missing or invalid Bearer token', 'AUTHENTICATION_ERROR'],
  500: ['Unable to process request', 'SERVICE_ERROR'],
  503: ['The database is unreachable; retry after Retry-After seconds', 'SERVICE_UNAVAILABLE'],
} as const;
const NOT_FOUND = { 404: ["Merchant doesn't exist or doesn't belong to partner", 'MERCHANT_NOT_FOUND'] } as const;

export const merchantRoutes: FastifyPluginAsyncTypebox<MerchantRoutesOptions> = async (app, { merchants }) => {
  app.get(
    '/merchant',
    {
      config,
      schema: {
        tags,
        security,
        operationId: 'listMerchants',
        summary: 'Get All Merchants',
        description:
          'Retrieve a paginated list of all merchants associated with your partner account, newest first. Check `pagination.hasNextPage` to know whether more pages exist.',
        querystring: PageQuerySchema,
        response: responses(
          { 200: described('Success Response (200 OK): a page of merchants', MerchantListSchema) },
          { 400: ['Invalid pagination parameters (page < 1 or limit > 100)', 'VALIDATION_ERROR'], ...COMMON },
          { rateLimited: true },
        ),
      },
    },
    async (request) => merchants.list(partnerOf(request).id, request.query),
  );

  app.post(
    '/merchant',
    {
      config: { ...config, idempotent: true },
      schema: {
        tags,
        security,
        operationId: 'createMerchant',
        summary: 'Create Merchant',
        description:
          'Create a new merchant under your partner account. Send an `Idempotency-Key` header to make retries safe.',
        headers: IdempotencyHeadersSchema,
        body: CreateMerchantBodySchema,
        response: responses(
          { 201: described('Success Response (201 Created)', CreateMerchantResponseSchema) },
          {
            400: ['Missing or invalid merchant name', 'VALIDATION_ERROR'],
            409: ['The Idempotency-Key was used with a different request, or that request is still running', 'IDEMPOTENCY_CONFLICT'],
            ...COMMON,
          },
          { rateLimited: true, jsonBody: true, idempotent: true },
        ),
      },
    },
    async (request, reply) => {
      const created = await merchants.create(partnerOf(request).id, request.body.name);
      return reply.code(201).send(created);
    },
  );

  app.get(
    '/merchant/:merchantId',
    {
      config,
      schema: {
        tags,
        security,
        operationId: 'getMerchant',
        summary: 'Get Merchant',
        description: 'One merchant of your partner account, with its MarkTags.',
        params: MerchantParamsSchema,
        response: responses(
          { 200: described('Success Response (200 OK): the merchant', MerchantDetailsSchema) },
          { 400: ['merchantId is not a valid UUID', 'VALIDATION_ERROR'], ...NOT_FOUND, ...COMMON },
          { rateLimited: true, pathParams: true },
        ),
      },
    },
    async (request) => merchants.get(partnerOf(request).id, request.params.merchantId),
  );

  app.patch(
    '/merchant/:merchantId',
    {
      config,
      schema: {
        tags,
        security,
        operationId: 'updateMerchant',
        summary: 'Update Merchant',
        description: "Rename a merchant of your partner account, or set the query parameters of its pages kept in stored URLs (`keepQueryParams`, at most 20; the attribution parameters utm_*, click ids and ref are always kept, every other one is dropped before storage). Give at least one of the two.",
        params: MerchantParamsSchema,
        body: UpdateMerchantBodySchema,
        response: responses(
          { 200: described('Success Response (200 OK): the updated merchant', MerchantDetailsSchema) },
          { 400: ['Invalid merchantId, merchant name or keepQueryParams, or an empty body', 'VALIDATION_ERROR'], ...NOT_FOUND, ...COMMON },
          { rateLimited: true, pathParams: true, jsonBody: true },
        ),
      },
    },
    async (request) => merchants.update(partnerOf(request).id, request.params.merchantId, request.body),
  );
};
