import { Type, type Static, type TSchema } from 'typebox';

/** Shared schema pieces: pagination, ids, timestamps, names and domains (answers and errors: responses.ts). */

export const Uuid = (description: string, example = '550e8400-e29b-41d4-a716-446655440000') =>
  Type.String({ format: 'uuid', description, examples: [example] });

export const Timestamp = (description: string, example = '2025-01-25T10:30:00.000Z') =>
  Type.String({ format: 'date-time', description, examples: [example] });

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const PageQuerySchema = Type.Object(
  {
    page: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, default: 1, description: 'Page number for pagination', examples: [1] }),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 10, description: 'Number of items per page', examples: [10] }),
  },
  { additionalProperties: false },
);
export type PageQuery = Static<typeof PageQuerySchema>;

export const PaginationSchema = Type.Object({
  currentPage: Type.Integer({ description: 'Current page number', examples: [1] }),
  itemsPerPage: Type.Integer({ description: 'Number of items per page', examples: [10] }),
  totalItems: Type.Integer({ description: 'Total number of items', examples: [100] }),
  totalPages: Type.Integer({ description: 'Total number of pages', examples: [10] }),
  hasNextPage: Type.Boolean({ description: 'Whether there are more pages', examples: [true] }),
  hasPreviousPage: Type.Boolean({ description: 'Whether there are previous pages', examples: [false] }),
});

export const IdempotencyHeadersSchema = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      description:
        'Makes the request safe to retry: a retry with the same key and body returns the first response (for 24 hours); the same key with another body is 409 IDEMPOTENCY_CONFLICT.',
      examples: ['5f0c8e8e-7d0a-4f5e-9d43-0d5f8f1b2c3a'],
    }),
  ),
});

/** Name of a merchant or partner: what people see in dashboards. */
export const DisplayName = (description: string, example: string) =>
  Type.String({
    minLength: 1,
    maxLength: 200,
    pattern: '\\S',
    'x-error-message': 'must be a non-empty string of at most 200 characters',
    description,
    examples: [example],
  });

/** The documented domain pattern of `POST /v1/partners/marktag/generate`. */
/** The documented domain pattern of `POST /v1/partners/marktag/generate` (also a partner's domain). */
export const DOMAIN_PATTERN = '^(?!.*:\\/\\/)(?!www\\.)([a-zA-Z0-9-]+\\.)+[a-zA-Z]{2,}$';

/** The documented subdomain pattern of `POST /v1/partners/marktag/verify`. */
export const SUBDOMAIN_PATTERN = '^(?!.*:\\/\\/)([a-zA-Z0-9-]+\\.)*[a-zA-Z0-9-]+\\.[a-zA-Z]{2,}$';

/**
 * Host names are case-insensitive (RFC 4343), so the documented host patterns are applied ignoring
 * case: `WWW.example.com` is refused like `www.example.com`. The OpenAPI document keeps their text
 * to the letter; the validator adds the flag (see plugins/validation.ts).
 */
export const CASE_INSENSITIVE_PATTERNS: ReadonlySet<string> = new Set([DOMAIN_PATTERN, SUBDOMAIN_PATTERN]);

export const CnameRecordSchema = Type.Object({
  type: Type.Literal('CNAME', { description: 'DNS record type (always "CNAME")' }),
  name: Type.String({ description: 'Subdomain name for the CNAME record', examples: ['mtag'] }),
  value: Type.String({ description: 'Target value for the CNAME record', examples: ['mtag.markopolo.ai'] }),
  ttl: Type.Integer({ description: 'Time-to-live in seconds', examples: [300] }),
});
export type CnameRecord = Static<typeof CnameRecordSchema>;
