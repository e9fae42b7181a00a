import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ApiError, RETRY_AFTER_SECONDS } from '../../errors.js';
import { described, responses } from '../../schemas/responses.js';

export interface HealthRoutesOptions {
  ping: () => Promise<void>;
}

const READINESS_TIMEOUT_MS = 2000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('readiness check timed out')), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Liveness (the process answers) and readiness (the database answers too), for load balancers. */
export const healthRoutes: FastifyPluginAsyncTypebox<HealthRoutesOptions> = async (app, { ping }) => {
  app.get(
    '/healthz',
    {
      logLevel: 'warn',
      schema: {
        tags: ['Service'],
        operationId: 'health',
        summary: 'Liveness',
        description: 'Answers 200 while the process is up, whatever the database does.',
        security: [],
        response: responses({ 200: described('The process is up', Type.Object({ status: Type.Literal('ok') })) }, {}),
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      logLevel: 'warn',
      schema: {
        tags: ['Service'],
        operationId: 'ready',
        summary: 'Readiness',
        description: 'Answers 200 when the database takes queries, else 503: take the instance out of rotation.',
        security: [],
        response: responses(
          { 200: described('The database answers', Type.Object({ status: Type.Literal('ready') })) },
          { 503: ['The database does not answer', 'SERVICE_UNAVAILABLE'] },
        ),
      },
    },
    async (request) => {
      try {
        await withTimeout(ping(), READINESS_TIMEOUT_MS);
      } catch (error) {
        request.log.warn({ err: error }, 'not ready: database does not answer');
        throw new ApiError(503, 'SERVICE_UNAVAILABLE', 'The database does not answer', undefined, {
          'retry-after': String(RETRY_AFTER_SECONDS),
        });
      }
      return { status: 'ready' as const };
    },
  );
};
