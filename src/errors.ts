import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable, sqlState } from './db/errors.js';

/** Every error code the API answers with. The seeds name most; DESIGN §3 names the rest. */
export const ERROR_CODES = [
  'VALIDATION_ERROR',
  'AUTHENTICATION_ERROR',
  'UNAUTHORIZED',
  'ACCESS_DENIED',
  'TAG_NOT_VERIFIED',
  'ORIGIN_NOT_ALLOWED',
  'NOT_FOUND',
  'MERCHANT_NOT_FOUND',
  'TAG_NOT_FOUND',
  'PARTNER_NOT_FOUND',
  'TOKEN_NOT_FOUND',
  'IDEMPOTENCY_CONFLICT',
  'DOMAIN_TAKEN',
  'UNSUPPORTED_MEDIA_TYPE',
  'PAYLOAD_TOO_LARGE',
  'RATE_LIMITED',
  'SERVICE_ERROR',
  'DATABASE_ERROR',
  'INTERNAL_ERROR',
  'SERVICE_UNAVAILABLE',
  'EXTERNAL_SERVICE_ERROR',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorDetail {
  field: string;
  message: string;
  /** DNS verification: the host that was checked, and the CNAME chain it resolved to. */
  host?: string;
  resolvedTo?: string[];
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; requestId: string; details?: ErrorDetail[] };
}

/** A refusal the client can act on. Services throw these; the one handler below renders them. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  static validation(field: string, message: string, status = 400): ApiError {
    return new ApiError(status, 'VALIDATION_ERROR', `${field} ${message}`, [{ field, message: `${field} ${message}` }]);
  }

  static notFound(code: ErrorCode, message: string): ApiError {
    return new ApiError(404, code, message);
  }
}

/** Seconds a client should wait before retrying when the database is away. */
export const RETRY_AFTER_SECONDS = 5;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The 401 code this route documents (the seeds differ between route families). */
    authErrorCode?: ErrorCode;
    /** The 500 code this route documents. */
    internalErrorCode?: ErrorCode;
    /** The 500 code this route documents for a failed database query, when it differs. */
    databaseErrorCode?: ErrorCode;
  }
}

function body(request: FastifyRequest, code: ErrorCode, message: string, details?: ErrorDetail[]): ErrorBody {
  return { error: { code, message, requestId: request.id, ...(details && details.length > 0 ? { details } : {}) } };
}

/** The error code each refused request was answered with, for counters that look after the answer. */
const answeredCodes = new WeakMap<FastifyReply, ErrorCode>();
export const errorCodeOf = (reply: FastifyReply): ErrorCode | undefined => answeredCodes.get(reply);

export function sendError(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  code: ErrorCode,
  message: string,
  details?: ErrorDetail[],
): FastifyReply {
  answeredCodes.set(reply, code);
  return reply.code(status).type('application/json; charset=utf-8').send(body(request, code, message, details));
}

interface AjvError {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
  parentSchema?: Record<string, unknown>;
}

const CONTEXT_NAMES: Record<string, string> = {
  body: 'body',
  querystring: 'query parameter',
  params: 'path parameter',
  headers: 'header',
};

function fieldOf(error: AjvError): string {
  const segments = error.instancePath.split('/').filter(Boolean);
  if (error.keyword === 'required') segments.push(String(error.params.missingProperty));
  if (error.keyword === 'additionalProperties') segments.push(String(error.params.additionalProperty));
  return segments.join('.');
}

function describe(error: AjvError, field: string, context: string): string {
  const name = field === '' ? `the ${CONTEXT_NAMES[context] ?? context}` : field;
  const custom = error.parentSchema?.['x-error-message'];
  if (typeof custom === 'string' && ['pattern', 'format', 'minLength', 'maxLength'].includes(error.keyword)) {
    return `${name} ${custom}`;
  }
  const p = error.params;
  switch (error.keyword) {
    case 'required':
      return `${name} is required`;
    case 'additionalProperties':
      return `${name} is not a known ${CONTEXT_NAMES[context] ?? 'field'}`;
    case 'type': {
      const type = String(p.type);
      const article = /^[aeiou]/.test(type) ? 'an' : 'a';
      return `${name} must be ${article} ${type}`;
    }
    case 'minimum':
      return `${name} must be at least ${String(p.limit)}`;
    case 'maximum':
      return `${name} must be at most ${String(p.limit)}`;
    case 'minLength':
      return p.limit === 1 ? `${name} must not be empty` : `${name} must be at least ${String(p.limit)} characters`;
    case 'maxLength':
      return `${name} must be at most ${String(p.limit)} characters`;
    case 'format':
      return p.format === 'uuid' ? `${name} must be a valid UUID` : `${name} must be a valid ${String(p.format)}`;
    case 'pattern':
      return `${name} must match the pattern ${String(p.pattern)}`;
    case 'enum':
      return `${name} must be one of ${(p.allowedValues as unknown[]).map(String).join(', ')}`;
    default:
      return `${name} ${error.message ?? 'is invalid'}`;
  }
}

function validationDetails(errors: AjvError[], context: string): ErrorDetail[] {
  return errors.map((error) => {
    const field = fieldOf(error);
    return { field: field === '' ? context : field, message: describe(error, field, context) };
  });
}

function isFastifyError(error: unknown): error is FastifyError {
  return error instanceof Error && typeof (error as FastifyError).code === 'string';
}

/** The one error handler: every non-2xx body is the documented envelope, and 5xx never leak internals. */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request, reply) => {
    const config = request.routeOptions.config;

    if (error instanceof ApiError) {
      if (error.headers) void reply.headers(error.headers);
      if (error.statusCode >= 500) request.log.error({ code: error.code }, error.message);
      return sendError(request, reply, error.statusCode, error.code, error.message, error.details);
    }

    const fastifyError = isFastifyError(error) ? error : undefined;
    if (fastifyError?.validation) {
      const details = validationDetails(fastifyError.validation, fastifyError.validationContext ?? 'body');
      return sendError(request, reply, 400, 'VALIDATION_ERROR', details[0]?.message ?? 'Invalid request', details);
    }

    switch (fastifyError?.code) {
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return sendError(
          request,
          reply,
          415,
          'UNSUPPORTED_MEDIA_TYPE',
          `Unsupported Content-Type ${JSON.stringify(request.headers['content-type'] ?? '')}: send ${(request.routeOptions.config.accepts ?? ['application/json']).join(' or ')}`,
        );
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return sendError(request, reply, 413, 'PAYLOAD_TOO_LARGE', 'Request body is too large');
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return sendError(request, reply, 400, 'VALIDATION_ERROR', 'Request body is empty: send a JSON object');
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
        return sendError(request, reply, 400, 'VALIDATION_ERROR', 'Request body is not valid JSON');
      default:
        break;
    }

    if (isDatabaseUnavailable(error)) {
      request.log.error({ err: error }, 'database unavailable');
      void reply.header('retry-after', String(RETRY_AFTER_SECONDS));
      return sendError(request, reply, 503, 'SERVICE_UNAVAILABLE', 'The service is temporarily unavailable; retry shortly');
    }

    const status = (error as { statusCode?: unknown } | null)?.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      // Client errors raised by Fastify or a body parser (bad JSON, bad Content-Length, …): their text is safe to show.
      const message = error instanceof SyntaxError ? 'Request body is not valid JSON' : (error as Error).message;
      return sendError(request, reply, status, status === 413 ? 'PAYLOAD_TOO_LARGE' : 'VALIDATION_ERROR', message);
    }

    request.log.error({ err: error }, 'unexpected error');
    const databaseFault = sqlState(error) !== undefined;
    return sendError(
      request,
      reply,
      500,
      (databaseFault ? config.databaseErrorCode : undefined) ?? config.internalErrorCode ?? 'INTERNAL_ERROR',
      databaseFault
        ? 'A database error stopped the request; it has been logged with its request id'
        : 'Unable to process the request; it has been logged with its request id',
    );
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    return sendError(request, reply, 404, 'NOT_FOUND', `No route ${request.method} ${path}`);
  });
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The body media types a route takes, when not only JSON: named in its 415 answer. */
    accepts?: readonly string[];
  }
}
