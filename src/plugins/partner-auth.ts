import type { FastifyRequest } from 'fastify';
import type { PartnerRow } from '../db/schema/index.js';
import type { TokensService } from '../modules/tokens/service.js';
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
 */
export function authenticatePartner(tokens: TokensService) {
  return async function partnerAuth(request: FastifyRequest): Promise<void> {
    const code = request.routeOptions.config.authErrorCode ?? 'AUTHENTICATION_ERROR';
    const bearer = bearerToken(request);
    if ('problem' in bearer) throw unauthorized(code, bearer.problem, false);
    const result = await tokens.authenticate(bearer.token);
    if (!result.ok) {
      throw unauthorized(code, result.reason === 'malformed' ? 'Invalid API token' : 'Invalid or revoked API token', true);
    }
    request.partner = result.partner;
  };
}

/** The authenticated partner of a Partners API request (the hook guarantees one). */
export function partnerOf(request: FastifyRequest): PartnerRow {
  if (request.partner === null) throw new Error('partner authentication did not run for this route');
  return request.partner;
}
