import { randomFillSync } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Redis } from 'ioredis';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Config } from './config.js';
import type { DatabaseHandle } from './db/client.js';
import { registerErrorHandling, RETRY_AFTER_SECONDS, sendError } from './errors.js';
import { loggerOptions } from './logger.js';
import { AccessLogController } from './lib/access-log.js';
import { lazyChildLogger } from './lib/lazy-child-logger.js';
import { AdminService } from './modules/admin/service.js';
import { PartnersRepository } from './modules/admin/repository.js';
import { adminRoutes } from './modules/admin/routes.js';
import { BatchWriter, DEFAULT_BATCH_OPTIONS, type BatchWriterOptions } from './modules/collect/batch-writer.js';
import { DEFAULT_IGNORED_OPTIONS, IgnoredEventsCounter, type IgnoredEventsOptions } from './modules/collect/ignored-events.js';
import { CollectRepository } from './modules/collect/repository.js';
import { collectRoutes } from './modules/collect/routes.js';
import { CollectService } from './modules/collect/service.js';
import { TagCache } from './modules/collect/tag-cache.js';
import { loadTracker, type TrackerAsset } from './modules/collect/tracker-asset.js';
import { InProcessEventBus, postgresEventBus, type EventBus } from './modules/events/event-bus.js';
import { EventsRepository } from './modules/events/repository.js';
import { DEFAULT_SSE_OPTIONS, type SseOptions } from './modules/events/sse-stream.js';
import { DEFAULT_HUB_OPTIONS, StreamHub, type StreamHubOptions } from './modules/events/stream-hub.js';
import { eventRoutes } from './modules/events/routes.js';
import { EventsService } from './modules/events/service.js';
import { loadCountryDatabase, type CountryLookup } from './modules/geo/index.js';
import { DiagnosticsRepository } from './modules/diagnostics/repository.js';
import { diagnosticsRoutes } from './modules/diagnostics/routes.js';
import { DiagnosticsService } from './modules/diagnostics/service.js';
import { DEFAULT_TAG_COUNTER_OPTIONS, TagCounter } from './modules/diagnostics/tag-counter.js';
import { healthRoutes } from './modules/health/routes.js';
import { Metrics, type Listener } from './modules/metrics/metrics.js';
import { measureRequests, metricsRoutes } from './modules/metrics/routes.js';
import { observeState } from './modules/metrics/state.js';
import { IdempotencyRepository } from './modules/idempotency/repository.js';
import { systemDnsResolver, type DnsResolver } from './modules/marktags/dns-resolver.js';
import { MarktagsRepository } from './modules/marktags/repository.js';
import { Reverifier } from './modules/marktags/reverifier.js';
import { marktagRoutes } from './modules/marktags/routes.js';
import { MarktagsService } from './modules/marktags/service.js';
import { MerchantsRepository } from './modules/merchants/repository.js';
import { merchantRoutes } from './modules/merchants/routes.js';
import { MerchantsService } from './modules/merchants/service.js';
import { partnerRoutes } from './modules/partners/routes.js';
import { ServerEventsRepository } from './modules/server-events/repository.js';
import { serverEventRoutes } from './modules/server-events/routes.js';
import { ServerEventsService } from './modules/server-events/service.js';
import { TokensRepository } from './modules/tokens/repository.js';
import { TokensService } from './modules/tokens/service.js';
import { idempotencyPlugin } from './plugins/idempotency.js';
import { openApiPlugin } from './plugins/openapi.js';
import { limitPerTag, limitPerToken } from './plugins/rate-limit.js';
import { apiSecurityHeaders } from './plugins/security-headers.js';
import { validatorCompiler } from './plugins/validation.js';
import { AuthFailureGuard } from './plugins/auth-failures.js';
import { authenticatePartner } from './plugins/partner-auth.js';
import { VERSION } from './version.js';

export interface AppDeps {
  database: DatabaseHandle;
  adminToken: string;
  /** DNS for tag verification; the configured servers (or the system's) when not given. */
  dns?: DnsResolver;
  /** The tracker script; the built file when not given. */
  tracker?: TrackerAsset;
  /** Group-commit tuning (benchmarks and tests). */
  batch?: Partial<BatchWriterOptions>;
  /** "New events" notifications: LISTEN/NOTIFY on PostgreSQL, in-process on PGlite, when not given. */
  bus?: EventBus;
  /** Ignored-event counting tuning (tests). */
  ignored?: Partial<IgnoredEventsOptions>;
  /** Live-stream tuning (tests). */
  stream?: Partial<StreamHubOptions & SseOptions>;
  /** Overrides the configured logger (tests pass false or a capturing stream). */
  logger?: FastifyServerOptions['logger'];
  /** Client address → country; the shipped database (loaded once a process) when not given. */
  countries?: CountryLookup;
}

/** The public listener (tracking hosts, Partners API); `app.admin` is the admin listener's instance. */
export type App = FastifyInstance;

/** Services that outlive a request: the server starts their background work, tests drive them. */
export interface Services {
  marktags: MarktagsService;
  reverifier: Reverifier;
  events: BatchWriter;
  streams: StreamHub;
  /** Counts of events answered but not stored (bots), flushed every few seconds. */
  ignored: IgnoredEventsCounter;
  /** The tags' diagnostics counts, flushed every few seconds. */
  counter: TagCounter;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
    /**
     * The admin listener: the Admin API and its reference where the APIs run, and /metrics in every
     * role. Its own instance, so no route of it can be reached through a tracking host.
     */
    admin: FastifyInstance;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Random bytes for request ids, drawn 4 KiB at a time: one system call per 256 ids, not one UUID (and its dashes) each. */
const idPool = Buffer.alloc(4096);
let idOffset = idPool.length;
function randomHex128(): string {
  if (idOffset === idPool.length) {
    randomFillSync(idPool);
    idOffset = 0;
  }
  idOffset += 16;
  return idPool.toString('hex', idOffset - 16, idOffset);
}
const IDEMPOTENCY_SWEEP_MS = 60 * 60 * 1000;

type Logging = { logger: FastifyServerOptions['logger'] } | { loggerInstance: FastifyBaseLogger };

/** One listener's Fastify instance: the options, request ids, error envelope and request metrics both listeners share. */
function httpInstance(config: Config, logging: Logging, metrics: Metrics, listener: Listener): FastifyInstance {
  const app = Fastify({
    ...logging,
    // A caller's own request id is kept when it is sane, so logs can be joined across systems.
    requestIdHeader: false,
    genReqId: (request) => {
      const incoming = request.headers['x-request-id'];
      return typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : `req_${randomHex128()}`;
    },
    logController: new AccessLogController({ requestIdLogLabel: 'requestId' }),
    // A request's pino child only when it logs: most collector requests log nothing.
    childLoggerFactory: lazyChildLogger,
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    // A client has 30 s to send a whole request (slow-body attacks); responses, streams included, are not bounded by it.
    requestTimeout: 30_000,
    // Errors raised by the router before any route runs (malformed URL, over-long path parameter)
    // get the envelope too. These requests have no hooks, so the request id header is set here.
    frameworkErrors: (error, request, reply) => {
      void reply.header('x-request-id', request.id);
      const status = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : 400;
      const message = status === 414 ? 'A path parameter is too long' : 'The URL is malformed';
      void sendError(request, reply, status, 'VALIDATION_ERROR', message);
    },
    // Requests that arrive while the server stops are answered below, in the envelope (Fastify's own 503 body is not it).
    return503OnClosing: false,
  }).withTypeProvider<TypeBoxTypeProvider>();
  app.setValidatorCompiler(validatorCompiler());

  // JSON only on the APIs; the collector adds text/plain in its own scope.
  app.removeContentTypeParser('text/plain');

  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // Callback-style hooks on the per-request path: no promise per hook and request.
  app.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id).header('x-content-type-options', 'nosniff');
    if (!closing) return done();
    // Fastify already asks keep-alive clients to close; Retry-After sends them to another instance shortly.
    void reply.header('retry-after', String(RETRY_AFTER_SECONDS));
    void sendError(request, reply, 503, 'SERVICE_UNAVAILABLE', 'The server is shutting down; retry shortly');
  });
  measureRequests(app, metrics, listener);
  registerErrorHandling(app);
  return app;
}

/**
 * Builds the whole service; never listens. The server and every test call this same function.
 * Two instances share the services: the public one (returned) for tracking hosts and partners,
 * and `app.admin` for the operator, which the server listens on apart (loopback by default).
 */
export async function buildApp(config: Config, deps: AppDeps): Promise<App> {
  const metrics = new Metrics();
  const logger = deps.logger ?? loggerOptions(config.logLevel, false);
  const app = httpInstance(config, { logger }, metrics, 'public');
  // One logger for both listeners: the same redaction, and one pretty-printing worker, not two.
  const admin = httpInstance(config, logger === false ? { logger: false } : { loggerInstance: app.log.child({ listener: 'admin' }) }, metrics, 'admin');
  app.decorate('admin', admin);
  app.addHook('onClose', async () => admin.close());
  await app.register(openApiPlugin, { publicUrl: config.publicUrl, version: VERSION, audience: 'public' });
  await admin.register(metricsRoutes, { metrics });

  const { db } = deps.database;
  const tokens = new TokensService(new TokensRepository(db, deps.database.run));
  const adminService = new AdminService(db, new PartnersRepository(db), tokens, {
    cnameTarget: config.cnameTarget,
    recordName: config.recordName,
  });
  const dns = deps.dns ?? systemDnsResolver(config.dnsServers);
  const merchantsRepository = new MerchantsRepository(db, deps.database.run);
  const marktagsRepository = new MarktagsRepository(db);
  const marktags = new MarktagsService(db, marktagsRepository, merchantsRepository, dns, {
    cnameTarget: config.cnameTarget,
    recordName: config.recordName,
    dnsTimeoutMs: config.dnsTimeoutMs,
    publicUrl: config.publicUrl,
  }, metrics);
  const collectRepository = new CollectRepository(db, deps.database.run);
  const bus =
    deps.bus ??
    (deps.database.engine === 'postgres' ? postgresEventBus(deps.database, app.log) : new InProcessEventBus());
  const writer = new BatchWriter(collectRepository, app.log, bus, { ...DEFAULT_BATCH_OPTIONS, ...deps.batch }, metrics);
  const ignored = new IgnoredEventsCounter(collectRepository, app.log, { ...DEFAULT_IGNORED_OPTIONS, ...deps.ignored });
  const diagnosticsRepository = new DiagnosticsRepository(deps.database.run);
  const counter = new TagCounter(diagnosticsRepository, app.log, { ...DEFAULT_TAG_COUNTER_OPTIONS, ...deps.ignored });
  const collector = new CollectService(new TagCache(collectRepository), writer, ignored, deps.countries ?? (await loadCountryDatabase({ directory: config.countryDataDir })), counter);
  const merchants = new MerchantsService(db, merchantsRepository, marktags);
  const serverEvents = new ServerEventsService(new ServerEventsRepository(deps.database.run), writer, counter);
  const diagnostics = new DiagnosticsService(diagnosticsRepository, marktagsRepository);
  const eventsRepository = new EventsRepository(db, deps.database.run);
  const eventsService = new EventsService(eventsRepository, merchantsRepository, marktagsRepository);
  const hub = new StreamHub(eventsRepository, bus, app.log, { ...DEFAULT_HUB_OPTIONS, ...deps.stream });
  // Streams end with a final message before the server stops waiting for connections.
  app.addHook('preClose', async () => hub.close('server shutting down'));
  const reverifier = new Reverifier(
    marktagsRepository,
    dns,
    { intervalMs: config.reverifyIntervalMs ?? 6 * 3_600_000, dnsTimeoutMs: config.dnsTimeoutMs },
    app.log,
    metrics,
  );
  app.decorate('services', { marktags, reverifier, events: writer, streams: hub, ignored, counter });
  observeState(metrics, { config, database: deps.database, writer, hub, reverifier });
  app.addHook('onClose', async () => {
    await reverifier.stop();
    await writer.close();
    await ignored.close();
    await counter.close();
  });
  const idempotency = new IdempotencyRepository(db);

  // Rate-limit counters: shared through Redis when configured, else per process.
  const redis = config.redisUrl
    ? new Redis(config.redisUrl, { connectTimeout: 500, maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true })
    : undefined;
  redis?.on('error', (error: unknown) => app.log.warn({ err: error }, 'redis unavailable: rate limits fail open'));
  // Connected before the first request, so limits hold from the start; if Redis is down, they fail open.
  await redis?.connect().catch((error: unknown) => app.log.warn({ err: error }, 'redis unavailable at start-up'));
  app.addHook('onClose', async () => {
    await redis?.quit().catch(() => undefined);
  });

  await app.register(async (service) => {
    service.addHook('onRequest', apiSecurityHeaders);
    await service.register(healthRoutes, { ping: () => deps.database.ping() });
  });

  if (config.role !== 'api') {
    await app.register(async (collectorScope) => {
      await limitPerTag(collectorScope, { perMinute: config.collectRateLimit, redis });
      await collectorScope.register(collectRoutes, { collector, tracker: deps.tracker ?? loadTracker(), counter, metrics });
    });
  }

  if (config.role !== 'collector') {
    await admin.register(openApiPlugin, { version: VERSION, audience: 'admin' });
    await admin.register(
      async (adminScope) => {
        adminScope.addHook('onRequest', apiSecurityHeaders);
        await adminScope.register(adminRoutes, { admin: adminService, adminToken: deps.adminToken });
      },
      { prefix: '/v1/admin' },
    );

    app.decorateRequest('partner', null);
    await app.register(
      async (partnerApi) => {
        partnerApi.addHook('onRequest', apiSecurityHeaders);
        await limitPerToken(partnerApi, { perMinute: config.apiRateLimit, redis });
        partnerApi.addHook('onRequest', authenticatePartner(tokens, new AuthFailureGuard({ limit: config.authFailureLimit })));
        await partnerApi.register(idempotencyPlugin, {
          repository: idempotency,
          scopeOf: (request) => (request.partner ? `partner:${request.partner.id}` : undefined),
        });
        await partnerApi.register(partnerRoutes);
        await partnerApi.register(merchantRoutes, { merchants });
        await partnerApi.register(marktagRoutes, { marktags });
        await partnerApi.register(serverEventRoutes, { serverEvents, metrics });
        await partnerApi.register(diagnosticsRoutes, { diagnostics });
        await partnerApi.register(eventRoutes, {
          events: eventsService,
          hub,
          repository: eventsRepository,
          sse: { ...DEFAULT_SSE_OPTIONS, ...deps.stream },
        });
      },
      { prefix: '/v1/partners' },
    );

    const sweeper = setInterval(() => {
      idempotency.deleteExpired().catch((error: unknown) => app.log.warn({ err: error }, 'idempotency sweep failed'));
    }, IDEMPOTENCY_SWEEP_MS);
    sweeper.unref();
    app.addHook('onClose', async () => clearInterval(sweeper));
  }

  return app;
}
