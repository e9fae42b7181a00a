import { createHash } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { ApiError } from '../errors.js';

export interface LimitOptions {
  /** Requests a minute per key; 0 switches the limit off. */
  perMinute: number;
  /** Shared counters across processes; in memory when absent. */
  redis: Redis | undefined;
}

const limited = (_request: FastifyRequest, context: { after: string }) =>
  new ApiError(429, 'RATE_LIMITED', `Rate limit exceeded: retry in ${context.after}`);

/**
 * Per token on the Partners API, counted before authentication (by a digest of the header, never
 * the token itself), so floods of bad tokens are limited too.
 */
export async function limitPerToken(scope: FastifyInstance, { perMinute, redis }: LimitOptions): Promise<void> {
  if (perMinute <= 0) return;
  await scope.register(rateLimit, {
    global: true,
    max: perMinute,
    timeWindow: 60_000,
    nameSpace: 'marktag-api-',
    ...(redis ? { redis, skipOnError: true } : {}),
    keyGenerator: (request) => {
      const header = request.headers.authorization;
      return header ? `token:${createHash('sha256').update(header).digest('base64url').slice(0, 32)}` : `ip:${request.ip}`;
    },
    errorResponseBuilder: limited,
  });
}

/** Per tag on the collector: one misbehaving site cannot take the collector from the others. */
export async function limitPerTag(scope: FastifyInstance, { perMinute, redis }: LimitOptions): Promise<void> {
  if (perMinute <= 0) return;
  await scope.register(rateLimit, {
    global: false,
    max: perMinute,
    timeWindow: 60_000,
    hook: 'preHandler',
    nameSpace: 'marktag-collect-',
    ...(redis ? { redis, skipOnError: true } : {}),
    keyGenerator: (request) => {
      const body = request.body as { tagId?: unknown } | undefined;
      return typeof body?.tagId === 'string' ? `tag:${body.tagId}` : `ip:${request.ip}`;
    },
    errorResponseBuilder: limited,
  });
}
