import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ApiError } from '../errors.js';
import type { IdempotencyRepository } from '../modules/idempotency/repository.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** POST routes that honour the Idempotency-Key header. */
    idempotent?: boolean;
  }
  interface FastifyRequest {
    idempotency: { scope: string; key: string } | null;
  }
}

export interface IdempotencyOptions {
  repository: IdempotencyRepository;
  /** Who the key belongs to; keys of different callers never meet. */
  scopeOf: (request: FastifyRequest) => string | undefined;
}

function fingerprint(request: FastifyRequest): string {
  return createHash('sha256')
    .update(JSON.stringify([request.method, request.routeOptions.url, request.params, request.body ?? null]))
    .digest('hex');
}

/**
 * Stripe-style retry safety for creates. The key is reserved after authentication and validation
 * (a request refused there never used it), the answer is stored before it is sent, and a server
 * fault (5xx) releases the key so the retry runs again rather than replaying the failure.
 */
export const idempotencyPlugin = fp<IdempotencyOptions>(
  async (app: FastifyInstance, { repository, scopeOf }) => {
    app.decorateRequest('idempotency', null);

    app.addHook('preHandler', async (request: FastifyRequest, reply: FastifyReply) => {
      if (request.routeOptions.config.idempotent !== true) return;
      const key = request.headers['idempotency-key'];
      const scope = scopeOf(request);
      if (typeof key !== 'string' || scope === undefined) return;

      const print = fingerprint(request);
      const reservation = await repository.reserve(scope, key, print);
      if (reservation.reserved) {
        request.idempotency = { scope, key };
        return;
      }
      const { existing } = reservation;
      if (existing.fingerprint !== print) {
        throw new ApiError(409, 'IDEMPOTENCY_CONFLICT', 'This Idempotency-Key was already used for a different request', [
          { field: 'Idempotency-Key', message: 'Use a new key for a different request' },
        ]);
      }
      if (existing.statusCode === null || existing.responseBody === null) {
        throw new ApiError(
          409,
          'IDEMPOTENCY_CONFLICT',
          'A request with this Idempotency-Key is still being processed; retry shortly',
          undefined,
          { 'retry-after': '1' },
        );
      }
      return reply
        .code(existing.statusCode)
        .header('idempotent-replayed', 'true')
        .type('application/json; charset=utf-8')
        .send(existing.responseBody);
    });

    app.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
      const held = request.idempotency;
      if (held === null) return payload;
      request.idempotency = null;
      try {
        if (reply.statusCode >= 500 || typeof payload !== 'string') {
          await repository.release(held.scope, held.key);
        } else {
          await repository.complete(held.scope, held.key, reply.statusCode, payload);
        }
      } catch (error) {
        // The answer itself is good: deliver it. The reservation lapses after a minute on its own.
        request.log.error({ err: error }, 'could not record the idempotent response');
      }
      return payload;
    });
  },
  { name: 'idempotency' },
);
