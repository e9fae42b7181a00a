import { Type, type Static } from 'typebox';
import {
  CnameRecordSchema,
  DisplayName,
  DOMAIN_PATTERN,
  Nullable,
  PaginationSchema,
  Timestamp,
  Uuid,
} from '../../schemas/common.js';

const TOKEN_EXAMPLE = 'mp_live_4eC39HqLyjWDarjtT1zdp7dc0Xf2kq1a2B3c4D';

export const CreatePartnerBodySchema = Type.Object(
  {
    name: DisplayName('Partner name', 'Acme Commerce'),
    domain: Type.Optional(
      Type.String({
        maxLength: 253,
        pattern: DOMAIN_PATTERN,
        'x-error-message': 'must be a valid domain without protocol or www prefix',
        description: "The partner's own domain: tags on it or its subdomains are preverified",
        examples: ['acme-commerce.com'],
      }),
    ),
  },
  { additionalProperties: false },
);
export type CreatePartnerBody = Static<typeof CreatePartnerBodySchema>;

export const PartnerSchema = Type.Object({
  partnerId: Uuid('Partner identifier'),
  name: Type.String({ description: 'Partner name', examples: ['Acme Commerce'] }),
  domain: Nullable(Type.String({ description: 'Partner domain for preverified tags', examples: ['acme-commerce.com'] })),
  createdAt: Timestamp('When the partner was onboarded'),
});
export type Partner = Static<typeof PartnerSchema>;

export const CreatePartnerResponseSchema = Type.Object({
  partnerId: Uuid('Partner identifier'),
  name: Type.String({ description: 'Partner name', examples: ['Acme Commerce'] }),
  domain: Nullable(Type.String({ description: 'Partner domain for preverified tags', examples: ['acme-commerce.com'] })),
  createdAt: Timestamp('When the partner was onboarded'),
  token: Type.String({ description: "The partner's first API token. Shown once: store it now.", examples: [TOKEN_EXAMPLE] }),
  tokenId: Uuid('Identifier of that token, to list or revoke it'),
  record: Type.Union([CnameRecordSchema, Type.Null()], {
    description: 'The CNAME the partner adds on its domain to enable preverified tags (null without a domain)',
  }),
});
export type CreatePartnerResponse = Static<typeof CreatePartnerResponseSchema>;

export const PartnerListSchema = Type.Object({
  partners: Type.Array(PartnerSchema),
  pagination: PaginationSchema,
});
export type PartnerList = Static<typeof PartnerListSchema>;

export const PartnerParamsSchema = Type.Object({ partnerId: Uuid('Partner identifier') }, { additionalProperties: false });
export type PartnerParams = Static<typeof PartnerParamsSchema>;

export const TokenParamsSchema = Type.Object({ tokenId: Uuid('Token identifier') }, { additionalProperties: false });
export type TokenParams = Static<typeof TokenParamsSchema>;

export const CreateTokenBodySchema = Type.Object(
  {
    name: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'A label for the token, such as where it is used', examples: ['production'] }),
    ),
  },
  { additionalProperties: false },
);
export type CreateTokenBody = Static<typeof CreateTokenBodySchema>;

export const CreateTokenResponseSchema = Type.Object({
  tokenId: Uuid('Token identifier'),
  token: Type.String({ description: 'The new API token. Shown once: store it now.', examples: [TOKEN_EXAMPLE] }),
});
export type CreateTokenResponse = Static<typeof CreateTokenResponseSchema>;

export const TokenSummarySchema = Type.Object({
  tokenId: Uuid('Token identifier'),
  name: Nullable(Type.String({ description: 'Label given at creation' })),
  prefix: Type.String({ description: 'The first characters of the token, to recognise it', examples: ['mp_live_4eC3'] }),
  createdAt: Timestamp('When the token was issued'),
  lastUsedAt: Nullable(Timestamp('When the token last authenticated a request (to the minute)')),
  revokedAt: Nullable(Timestamp('When the token was revoked')),
});
export type TokenSummary = Static<typeof TokenSummarySchema>;

export const TokenListSchema = Type.Object({ tokens: Type.Array(TokenSummarySchema) });
export type TokenList = Static<typeof TokenListSchema>;
