import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { bearerToken, unauthorized } from './bearer.js';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** onRequest hook for the Admin API. Digests make the comparison constant-time whatever the lengths. */
export function authenticateAdmin(adminToken: string) {
  const expected = digest(adminToken);
  return async function adminAuth(request: FastifyRequest): Promise<void> {
    const bearer = bearerToken(request);
    if ('problem' in bearer) throw unauthorized('AUTHENTICATION_ERROR', bearer.problem, false);
    if (!timingSafeEqual(digest(bearer.token), expected)) {
      throw unauthorized('AUTHENTICATION_ERROR', 'Invalid admin token', true);
    }
  };
}
