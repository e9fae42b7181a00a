import type { FastifyRequest } from 'fastify';
import type { PartnerRow } from '../db/schema/index.js';
import { ApiError } from '../errors.js';
import type { TokensService } from '../modules/tokens/service.js';
import type { AuthFailureGuard } from './auth-failures.js';
import { bearerToken, unauthorized } from './bearer.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by partner authentication on every /v1/partners route; null elsewhere. */
    partner: PartnerRow | null;
  }
}

/**
 * onRequest hook for the Partners API: turns the Bearer token into `request.partner`, before any
 * body is read. The 401 code is the one the route documents (merchant and marktag routes differ).
 * Unknown tokens count against the client's address (request.ip, which honours
 * MARKTAG_TRUST_PROXY); past the bound, that address gets 429 without a database look-up, except
 * for tokens that authenticated recently.
 */
export function authenticatePartner(tokens: TokensService, failures: AuthFailureGuard) {
  return async function partnerAuth(request: FastifyRequest): Promise<void> {
    const code = request.routeOptions.config.authErrorCode ?? 'AUTHENTICATION_ERROR';
    const bearer = bearerToken(request);
    if ('problem' in bearer) throw unauthorized(code, bearer.problem, false);
    const retryAfter = failures.retryAfterSeconds(request.ip);
    const result = await tokens.authenticate(bearer.token, { restricted: retryAfter > 0 });
    if (result.ok) {
      request.partner = result.partner;
      return;
    }
    if (result.reason === 'refused') {
      throw new ApiError(429, 'RATE_LIMITED', `Too many failed authentications from this address: retry in ${retryAfter} seconds`, undefined, {
        'retry-after': String(retryAfter),
      });
    }
    if (result.reason === 'unknown') failures.recordFailure(request.ip);
    throw unauthorized(code, result.reason === 'malformed' ? 'Invalid API token' : 'Invalid or revoked API token', true);
  };
}

/** The authenticated partner of a Partners API request (the hook guarantees one). */
export function partnerOf(request: FastifyRequest): PartnerRow {
  if (request.partner === null) throw new Error('partner authentication did not run for this route');
  return request.partner;
}
