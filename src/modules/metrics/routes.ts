import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Listener, Metrics } from './metrics.js';

export interface MetricsRoutesOptions {
  metrics: Metrics;
}

/**
 * GET /metrics in Prometheus' text format. Unauthenticated, as scrapers expect: it is served only on
 * the admin listener, which is bound to loopback unless the operator binds it elsewhere.
 */
export const metricsRoutes: FastifyPluginAsync<MetricsRoutesOptions> = async (app, { metrics }) => {
  app.get('/metrics', { logLevel: 'warn', schema: { hide: true } }, async (_request, reply) => {
    const { contentType, body } = await metrics.exposition();
    return reply.header('cache-control', 'no-store').type(contentType).send(body);
  });
};

/** Counts and times every answer of a listener, by route template (never the raw URL: ids would explode the series). */
export function measureRequests(app: FastifyInstance, metrics: Metrics, listener: Listener): void {
  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpRequests.inc({ listener, method: request.method, route, status: String(reply.statusCode) });
    metrics.httpDuration.observe({ listener, method: request.method, route }, reply.elapsedTime / 1000);
    done();
  });
}
