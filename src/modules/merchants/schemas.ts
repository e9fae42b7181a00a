import { Type, type Static } from 'typebox';
import { DisplayName, PaginationSchema, Timestamp, Uuid } from '../../schemas/common.js';

export const TagStatusSchema = Type.Unsafe<'inactive' | 'waiting_for_events' | 'active'>({
  type: 'string',
  enum: ['inactive', 'waiting_for_events', 'active'],
  description: 'Current status: "inactive" until verified, "waiting_for_events" once verified, "active" once events arrive',
  examples: ['active'],
});

export const MerchantMarktagSchema = Type.Object({
  hostname: Type.String({ description: 'Domain where MarkTag is installed', examples: ['example.com'] }),
  tagId: Uuid('Unique identifier for the MarkTag', '550e8400-e29b-41d4-a716-446655440001'),
  status: TagStatusSchema,
  createdAt: Timestamp('ISO 8601 timestamp of MarkTag creation'),
});
export type MerchantMarktag = Static<typeof MerchantMarktagSchema>;

export const MerchantSchema = Type.Object({
  merchantId: Uuid('Unique identifier for the merchant'),
  name: Type.String({ description: 'Merchant name', examples: ['Acme Corporation'] }),
  createdAt: Timestamp('ISO 8601 timestamp of creation'),
  marktags: Type.Array(MerchantMarktagSchema, { description: 'List of MarkTags associated with the merchant' }),
});
export type Merchant = Static<typeof MerchantSchema>;

export const MerchantDetailsSchema = Type.Object({
  merchantId: Uuid('Unique identifier for the merchant'),
  name: Type.String({ description: 'Merchant name', examples: ['Acme Corporation'] }),
  createdAt: Timestamp('ISO 8601 timestamp of creation'),
  updatedAt: Timestamp('ISO 8601 timestamp of the last change'),
  keepQueryParams: Type.Array(Type.String(), {
    description: 'Query parameters kept in stored URLs beside the attribution ones (utm_*, click ids, ref); every other parameter is dropped before storage',
    examples: [['q', 'variant']],
  }),
  marktags: Type.Array(MerchantMarktagSchema, { description: 'List of MarkTags associated with the merchant' }),
});
export type MerchantDetails = Static<typeof MerchantDetailsSchema>;

/** The success example of merchants-api.txt, verbatim. */
const MERCHANT_LIST_EXAMPLE = {
  merchants: [
    {
      merchantId: '550e8400-e29b-41d4-a716-446655440000',
      name: 'Acme Corporation',
      createdAt: '2025-01-25T10:30:00Z',
      marktags: [
        { hostname: 'example.com', tagId: '550e8400-e29b-41d4-a716-446655440001', status: 'active', createdAt: '2025-01-25T10:30:00Z' },
        { hostname: 'shop.example.com', tagId: '550e8400-e29b-41d4-a716-446655440002', status: 'inactive', createdAt: '2025-01-26T10:30:00Z' },
      ],
    },
  ],
  pagination: { currentPage: 1, itemsPerPage: 10, totalItems: 100, totalPages: 10, hasNextPage: true, hasPreviousPage: false },
};

export const MerchantListSchema = Type.Object(
  {
    merchants: Type.Array(MerchantSchema, { description: 'List of merchant objects' }),
    pagination: PaginationSchema,
  },
  { examples: [MERCHANT_LIST_EXAMPLE] },
);
export type MerchantList = Static<typeof MerchantListSchema>;

export const CreateMerchantBodySchema = Type.Object(
  { name: DisplayName('Merchant name', 'Acme Corporation') },
  { additionalProperties: false, examples: [{ name: 'New Merchant Name' }] },
);
export type CreateMerchantBody = Static<typeof CreateMerchantBodySchema>;

export const CreateMerchantResponseSchema = Type.Object(
  { merchantId: Uuid('Unique identifier for the newly created merchant', '550e8400-e29b-41d4-a716-446655440001') },
  { examples: [{ merchantId: '550e8400-e29b-41d4-a716-446655440001' }] },
);
export type CreateMerchantResponse = Static<typeof CreateMerchantResponseSchema>;

/** How many of its own query parameters a merchant may keep in stored URLs. */
export const MAX_KEPT_QUERY_PARAMS = 20;

export const UpdateMerchantBodySchema = Type.Object(
  {
    name: Type.Optional(DisplayName('New merchant name', 'Acme Corporation')),
    keepQueryParams: Type.Optional(
      Type.Array(Type.String({ pattern: '^[A-Za-z0-9_.\\[\\]-]{1,64}$', 'x-error-message': 'must be a query parameter name of 1-64 letters, digits, "_", "-", "." or brackets' }), {
        maxItems: MAX_KEPT_QUERY_PARAMS,
        uniqueItems: true,
        description: `Your own query parameters to keep in stored URLs (at most ${MAX_KEPT_QUERY_PARAMS}), replacing the list; the attribution parameters are always kept. Applies to events received from about a minute after the change (the collector caches tags).`,
        examples: [['q', 'variant']],
      }),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateMerchantBody = Static<typeof UpdateMerchantBodySchema>;

export const MerchantParamsSchema = Type.Object({ merchantId: Uuid('Merchant identifier') }, { additionalProperties: false });
export type MerchantParams = Static<typeof MerchantParamsSchema>;
