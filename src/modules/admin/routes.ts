import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { PageQuerySchema } from '../../schemas/common.js';
import { described, responses } from '../../schemas/responses.js';
import { authenticateAdmin } from '../../plugins/admin-auth.js';
import {
  CreatePartnerBodySchema,
  CreatePartnerResponseSchema,
  CreateTokenBodySchema,
  CreateTokenResponseSchema,
  PartnerListSchema,
  PartnerParamsSchema,
  TokenListSchema,
  TokenParamsSchema,
} from './schemas.js';
import type { AdminService } from './service.js';

export interface AdminRoutesOptions {
  admin: AdminService;
  adminToken: string;
}

const AUTH = { 401: ['Missing or invalid admin token', 'AUTHENTICATION_ERROR'] } as const;
const UNAVAILABLE = {
  500: ['Unexpected failure: logged with its request id', 'INTERNAL_ERROR'],
  503: ['The database is unreachable; retry after Retry-After seconds', 'SERVICE_UNAVAILABLE'],
} as const;
const tags = ['Admin'];
const security = [{ adminToken: [] }];

/** The operator's API: onboarding partners and managing their tokens. */
export const adminRoutes: FastifyPluginAsyncTypebox<AdminRoutesOptions> = async (app, { admin, adminToken }) => {
  app.addHook('onRequest', authenticateAdmin(adminToken));

  app.post(
    '/partners',
    {
      schema: {
        tags,
        security,
        operationId: 'createPartner',
        summary: 'Onboard a partner',
        description:
          "Creates a partner and its first `mp_live_` token (shown once). With a `domain`, the answer also carries the CNAME record the partner adds on that domain so that tags under it are preverified. A domain belongs to one partner: it may not equal, contain or lie under another partner's domain.",
        body: CreatePartnerBodySchema,
        response: responses(
          { 201: described('Success Response (201 Created): the partner, its first token and its CNAME record', CreatePartnerResponseSchema) },
          {
            400: ['Missing or invalid name or domain (a public suffix is not a partner domain)', 'VALIDATION_ERROR'],
            ...AUTH,
            409: ['The domain equals, contains or lies under the domain of another partner (compared ignoring case)', 'DOMAIN_TAKEN'],
            ...UNAVAILABLE,
          },
          { jsonBody: true },
        ),
      },
    },
    async (request, reply) => {
      const created = await admin.createPartner(request.body.name, request.body.domain ?? null);
      return reply.code(201).send(created);
    },
  );

  app.get(
    '/partners',
    {
      schema: {
        tags,
        security,
        operationId: 'listPartners',
        summary: 'List partners',
        description: 'Newest first, paginated like the merchants list.',
        querystring: PageQuerySchema,
        response: responses(
          { 200: described('Success Response (200 OK): a page of partners', PartnerListSchema) },
          { 400: ['Invalid pagination parameters', 'VALIDATION_ERROR'], ...AUTH, ...UNAVAILABLE },
        ),
      },
    },
    async (request) => admin.listPartners(request.query),
  );

  app.post(
    '/partners/:partnerId/tokens',
    {
      schema: {
        tags,
        security,
        operationId: 'createToken',
        summary: 'Issue a token',
        description: 'Issues another `mp_live_` token for the partner, for rotation. The token is shown once.',
        params: PartnerParamsSchema,
        body: CreateTokenBodySchema,
        response: responses(
          { 201: described('Success Response (201 Created): the new token', CreateTokenResponseSchema) },
          {
            400: ['Invalid partner id or token name', 'VALIDATION_ERROR'],
            ...AUTH,
            404: ['No such partner', 'PARTNER_NOT_FOUND'],
            ...UNAVAILABLE,
          },
          { jsonBody: true, pathParams: true },
        ),
      },
    },
    async (request, reply) => {
      const issued = await admin.issueToken(request.params.partnerId, request.body?.name ?? null);
      return reply.code(201).send(issued);
    },
  );

  app.get(
    '/partners/:partnerId/tokens',
    {
      schema: {
        tags,
        security,
        operationId: 'listTokens',
        summary: "List a partner's tokens",
        description: 'Every token ever issued to the partner, without secrets: prefix, dates, and whether it is revoked.',
        params: PartnerParamsSchema,
        response: responses(
          { 200: described("Success Response (200 OK): the partner's tokens", TokenListSchema) },
          {
            400: ['Invalid partner id', 'VALIDATION_ERROR'],
            ...AUTH,
            404: ['No such partner', 'PARTNER_NOT_FOUND'],
            ...UNAVAILABLE,
          },
          { pathParams: true },
        ),
      },
    },
    async (request) => admin.listTokens(request.params.partnerId),
  );

  app.delete(
    '/tokens/:tokenId',
    {
      schema: {
        tags,
        security,
        operationId: 'revokeToken',
        summary: 'Revoke a token',
        description: 'The token fails from the very next request on. Revoking a revoked token is a no-op.',
        params: TokenParamsSchema,
        response: responses(
          { 204: Type.Null({ description: 'Revoked' }) },
          {
            400: ['Invalid token id', 'VALIDATION_ERROR'],
            ...AUTH,
            404: ['No such token', 'TOKEN_NOT_FOUND'],
            ...UNAVAILABLE,
          },
          { pathParams: true },
        ),
      },
    },
    async (request, reply) => {
      await admin.revokeToken(request.params.tokenId);
      return reply.code(204).send(null);
    },
  );
};
