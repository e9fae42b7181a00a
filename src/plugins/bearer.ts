import type { FastifyRequest } from 'fastify';
import { ApiError, type ErrorCode } from '../errors.js';

/** The token of an `Authorization: Bearer …` header, or why there is none. */
export function bearerToken(request: FastifyRequest): { token: string } | { problem: string } {
  const header = request.headers.authorization;
  if (header === undefined || header.trim() === '') {
    return { problem: 'Missing Bearer token: send the header "Authorization: Bearer <token>"' };
  }
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  if (!match?.[1]) return { problem: 'The Authorization header must use the Bearer scheme: "Bearer <token>"' };
  return { token: match[1] };
}

/** A 401 in the documented envelope, with the RFC 6750 challenge. */
export function unauthorized(code: ErrorCode, message: string, invalidToken: boolean): ApiError {
  return new ApiError(401, code, message, undefined, {
    'www-authenticate': invalidToken ? 'Bearer realm="marktag", error="invalid_token"' : 'Bearer realm="marktag"',
  });
}
