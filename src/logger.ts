import type { FastifyServerOptions } from 'fastify';
import type { LogLevel } from './config.js';
import { summarizeError } from './db/error-summary.js';

type LoggerOptions = Exclude<FastifyServerOptions['logger'], boolean | undefined>;

/**
 * Pino options. Requests are logged by method, path and id only: never headers, client IPs or
 * bodies. Secrets are redacted wherever a header object does get logged. Errors are logged
 * through one serializer that never prints a database error's parameters or quoted values.
 */
export function loggerOptions(level: LogLevel, pretty: boolean): LoggerOptions {
  return {
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'headers.authorization',
        'headers.cookie',
        'res.headers["set-cookie"]',
        '*.token',
        '*.adminToken',
      ],
      censor: '[redacted]',
    },
    serializers: {
      req: (request: { method: string; url: string; routeOptions?: { url?: string } }) => ({
        method: request.method,
        url: request.url.split('?')[0],
        route: request.routeOptions?.url,
      }),
      res: (reply: { statusCode: number }) => ({ statusCode: reply.statusCode }),
      // Database errors without their parameters or quoted values (see db/error-summary.ts).
      // (Pino's type asks for a stack; a database error's is withheld, its frames aside.)
      err: (error: unknown) => {
        const summary = summarizeError(error);
        return { ...summary, stack: summary.stack ?? '' };
      },
    },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } } } : {}),
  };
}
