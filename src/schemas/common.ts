import { Type, type Static, type TSchema } from 'typebox';
import type { ErrorCode } from '../errors.js';

/** Shared schema pieces: the error envelope, pagination, ids and timestamps. */

export const Uuid = (description: string, example = '550e8400-e29b-41d4-a716-446655440000') =>
  Type.String({ format: 'uuid', description, examples: [example] });

export const Timestamp = (description: string, example = '2025-01-25T10:30:00.000Z') =>
  Type.String({ format: 'date-time', description, examples: [example] });

export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

export const ErrorDetailSchema = Type.Object({
  field: Type.String({ description: 'The request field the problem is about', examples: ['name'] }),
  message: Type.String({ description: 'What is wrong with it', examples: ['name is required'] }),
  host: Type.Optional(Type.String({ description: 'DNS verification: a host that was checked', examples: ['mtag.shop.example.com'] })),
  resolvedTo: Type.Optional(
    Type.Array(Type.String(), { description: 'DNS verification: the CNAME chain that host resolved to (empty when it has none)' }),
  ),
});

function errorEnvelope(codes: readonly ErrorCode[], description: string, example: string) {
  return Type.Object(
    {
      error: Type.Object({
        code: Type.Unsafe<ErrorCode>({ type: 'string', enum: [...codes], description: 'Stable, machine-readable error code' }),
        message: Type.String({ description: 'A human sentence explaining the problem', examples: [example] }),
        requestId: Type.String({ description: 'Also sent as the x-request-id header; quote it when asking for support' }),
        details: Type.Optional(Type.Array(ErrorDetailSchema, { description: 'Per-field problems, when there are any' })),
      }),
    },
    { description },
  );
}

/** `[description, code…]` per status, as the endpoint's documentation lists them. */
export type ErrorTable = Partial<Record<400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 500 | 503, readonly [string, ...ErrorCode[]]>>;

/** Every Partners API route can answer this one (a per-token limit). */
const RATE_LIMITED_ROW = [
  'Too many requests for this token, or too many failed authentications from this client address: retry after Retry-After seconds',
  'RATE_LIMITED',
] as const;

/** Response schemas for the documented error rows of an endpoint, plus the rows every endpoint can answer. */
export function errorResponses(table: ErrorTable, options: { rateLimited?: boolean } = {}): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  const rows: ErrorTable = options.rateLimited && !table[429] ? { ...table, 429: RATE_LIMITED_ROW } : table;
  for (const [status, row] of Object.entries(rows)) {
    if (!row) continue;
    const [description, ...codes] = row;
    out[Number(status)] = errorEnvelope(codes, description, description);
  }
  return out;
}

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
