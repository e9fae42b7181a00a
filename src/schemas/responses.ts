import { Type, type TSchema } from 'typebox';
import type { ErrorCode } from '../errors.js';

/**
 * The answers of a route as the OpenAPI document shows them: the error envelope, the error rows a
 * kind of route implies, non-JSON media types, and the response headers each answer carries.
 */

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

type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 414 | 415 | 422 | 429 | 500 | 503;

/** `[description, code…]` per status, as the endpoint's documentation lists them. */
export type ErrorTable = Partial<Record<ErrorStatus, readonly [string, ...ErrorCode[]]>>;

/** What a route does besides its own answers; each adds the error rows and headers it implies. */
export interface ResponseOptions {
  /** Counted by a rate limit: a 429 row, and x-ratelimit-* on every answer. */
  rateLimited?: boolean;
  /** Reads a JSON body: 413 (over the body limit) and 415 (another Content-Type) rows. */
  jsonBody?: boolean;
  /** Has path parameters: the router's 414 for an over-long one. */
  pathParams?: boolean;
  /** Honours Idempotency-Key: answers the handler gave may come back as replays (idempotent-replayed). */
  idempotent?: boolean;
}

/** Every Partners API route can answer this one (a per-token limit). */
const RATE_LIMITED_ROW = [
  'Too many requests for this token, or too many failed authentications from this client address: retry after Retry-After seconds',
  'RATE_LIMITED',
] as const;
const PAYLOAD_TOO_LARGE_ROW = ['The body is over the server\'s body limit (MARKTAG_BODY_LIMIT_BYTES)', 'PAYLOAD_TOO_LARGE'] as const;
const UNSUPPORTED_MEDIA_TYPE_ROW = ['The body is not application/json', 'UNSUPPORTED_MEDIA_TYPE'] as const;
const URI_TOO_LONG_ROW = ['A path parameter is too long', 'VALIDATION_ERROR'] as const;

/**
 * Response headers, described once. `x-header-required` becomes the header's `required` flag when
 * the document is built (plugins/openapi-transforms.ts): @fastify/swagger copies every keyword of
 * a header into its schema, where `required` would mean something else.
 */
const header = (description: string, schema: Record<string, unknown>, required: boolean) => ({
  ...schema,
  description,
  ...(required ? { 'x-header-required': true } : {}),
});

export const RESPONSE_HEADERS = {
  'x-request-id': header('Identifies the request in logs (your own x-request-id when it was sane, else generated); error bodies carry it as requestId', { type: 'string', examples: ['req_4f6d0c5e2b8a4c1f9e3d7a6b5c4d3e2f'] }, true),
  'retry-after': header('Seconds to wait before retrying', { type: 'string', pattern: '^\\d+$', examples: ['5'] }, true),
  'x-ratelimit-limit': header('Requests allowed per minute (absent when the limit is off)', { type: 'string', pattern: '^\\d+$', examples: ['6000'] }, false),
  'x-ratelimit-remaining': header('Requests left in the current minute (absent when the limit is off)', { type: 'string', pattern: '^\\d+$', examples: ['5999'] }, false),
  'x-ratelimit-reset': header('Seconds until the current minute ends (absent when the limit is off)', { type: 'string', pattern: '^\\d+$', examples: ['42'] }, false),
  'www-authenticate': header('The RFC 6750 challenge: `Bearer realm="marktag"`, with `error="invalid_token"` when a token was sent but refused', { type: 'string', pattern: '^Bearer realm="marktag"', examples: ['Bearer realm="marktag", error="invalid_token"'] }, true),
  'idempotent-replayed': header('"true" when this is the stored answer to an earlier request with the same Idempotency-Key', { type: 'string', enum: ['true'] }, false),
} as const;

/** Idempotency: a request with the same key still running is told when to come back. */
const RETRY_WHILE_RUNNING = header('Seconds to wait before retrying, when the request with this Idempotency-Key is still running', { type: 'string', pattern: '^\\d+$', examples: ['1'] }, false);

type HeaderName = keyof typeof RESPONSE_HEADERS;
type HeaderSet = Record<string, Record<string, unknown>>;

/** A response header of one route only (ETag, Content-Disposition, …), in the same shape as the shared ones. */
export function responseHeader(description: string, schema: Record<string, unknown>, options: { required: boolean }) {
  return header(description, schema, options.required);
}

function pick(...names: HeaderName[]): HeaderSet {
  return Object.fromEntries(names.map((name) => [name, RESPONSE_HEADERS[name]]));
}

const RATE_LIMIT_HEADERS: HeaderName[] = ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'];
/** Statuses a handler (not a hook before it) can answer, so an idempotent route may replay them. */
const REPLAYABLE_ERRORS = new Set([400, 403, 404, 422]);

function headersFor(status: number, options: ResponseOptions): HeaderSet {
  const headers: HeaderSet = pick('x-request-id');
  if (options.rateLimited) Object.assign(headers, pick(...RATE_LIMIT_HEADERS));
  if (status === 429 || status === 503) Object.assign(headers, pick('retry-after'));
  if (status === 401) Object.assign(headers, pick('www-authenticate'));
  if (status === 409 && options.idempotent) headers['retry-after'] = RETRY_WHILE_RUNNING;
  if (options.idempotent && (status < 300 || REPLAYABLE_ERRORS.has(status))) Object.assign(headers, pick('idempotent-replayed'));
  return headers;
}

/** A non-JSON answer: one schema per media type (the tracker, the live stream, exports). */
export interface MediaResponse {
  description: string;
  content: Record<string, { schema: TSchema }>;
}

export function media(description: string, content: Record<string, TSchema>): MediaResponse {
  return { description, content: Object.fromEntries(Object.entries(content).map(([type, schema]) => [type, { schema }])) };
}

type Answer = TSchema | MediaResponse;

/** The schema with the headers of its status attached, as @fastify/swagger reads them (`headers` beside the schema). */
function withHeaders<T extends Answer>(answer: T, headers: HeaderSet): T {
  const own = (answer as { headers?: HeaderSet }).headers ?? {};
  return { ...answer, headers: { ...headers, ...own } };
}

/**
 * A success answer with headers of its own beyond the shared ones (x-request-id, rate limits, replays),
 * which `responses` adds.
 */
export function withOwnHeaders<T extends Answer>(answer: T, headers: HeaderSet): T {
  return { ...answer, headers };
}

/** A success schema with the sentence the document shows for that answer. */
export function described<T extends TSchema>(description: string, schema: T): T {
  return { ...schema, 'x-response-description': description };
}

/** Response schemas for the documented error rows of an endpoint, plus the rows every endpoint of its kind can answer. */
function errorResponses(table: ErrorTable, options: ResponseOptions = {}): Record<number, TSchema> {
  const rows: ErrorTable = {
    ...(options.jsonBody ? { 413: PAYLOAD_TOO_LARGE_ROW, 415: UNSUPPORTED_MEDIA_TYPE_ROW } : {}),
    ...(options.pathParams ? { 414: URI_TOO_LONG_ROW } : {}),
    ...(options.rateLimited ? { 429: RATE_LIMITED_ROW } : {}),
    ...table,
  };
  const out: Record<number, TSchema> = {};
  for (const [key, row] of Object.entries(rows)) {
    if (!row) continue;
    const status = Number(key);
    const [description, ...codes] = row;
    out[status] = withHeaders(errorEnvelope(codes, description, description), headersFor(status, options));
  }
  return out;
}

/**
 * Every answer of a route: its successes and its documented error rows, each with the headers it
 * carries, so the document says what the server sends (the response-contract test holds them to it).
 */
export function responses<S extends Record<number, Answer>>(
  success: S,
  table: ErrorTable,
  options: ResponseOptions = {},
): S & Record<number, TSchema> {
  const out: Record<number, Answer> = {};
  for (const [key, answer] of Object.entries(success)) out[Number(key)] = withHeaders(answer, headersFor(Number(key), options));
  return { ...(out as S), ...errorResponses(table, options) };
}
