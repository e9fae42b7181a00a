import { createHash } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { ApiError } from '../errors.js';
import { WindowCounter } from '../lib/window-counter.js';

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

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Counted against the per-tag limit of the collector scope (limitPerTag). */
    limitPerTag?: boolean;
  }
}

/**
 * Per tag on the collector: one misbehaving site cannot take the collector from the others.
 * Counted by a WindowCounter (a map look-up; shared through Redis every 100 ms) rather than
 * @fastify/rate-limit, which costs this busiest path a promise, its hooks and a store call (a
 * Redis round trip when shared) per request. Same answers: `x-ratelimit-*` on every counted
 * request, 429 RATE_LIMITED with Retry-After beyond the limit.
 */
export async function limitPerTag(scope: FastifyInstance, { perMinute, redis }: LimitOptions): Promise<void> {
  if (perMinute <= 0) return;
  const counter = new WindowCounter({
    windowMs: 60_000,
    redis,
    nameSpace: 'marktag-collect-',
    onSyncError: (error) => scope.log.warn({ err: error }, 'redis unavailable: per-tag limits count in this process alone'),
  });
  scope.addHook('onClose', async () => {
    counter.close();
    await counter.sync();
  });
  const limit = String(perMinute);
  // After validation (preHandler): the tag id is the body's, and only a valid body is counted.
  scope.addHook('preHandler', (request, reply, done) => {
    if (request.routeOptions.config.limitPerTag !== true) return done();
    const body = request.body as { tagId?: unknown } | undefined;
    const { count, resetInMs } = counter.hit(typeof body?.tagId === 'string' ? `tag:${body.tagId}` : `ip:${request.ip}`);
    const reset = String(Math.ceil(resetInMs / 1000));
    void reply
      .header('x-ratelimit-limit', limit)
      .header('x-ratelimit-remaining', String(Math.max(0, perMinute - count)))
      .header('x-ratelimit-reset', reset);
    if (count <= perMinute) return done();
    done(new ApiError(429, 'RATE_LIMITED', `Rate limit exceeded: retry in ${reset} seconds`, undefined, { 'retry-after': reset }));
  });
}
