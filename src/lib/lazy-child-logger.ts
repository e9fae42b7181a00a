import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, LogFn } from 'pino';

/** Pino's standard levels (MarkTag defines no others). */
const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

type Method = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/**
 * A request's logger that becomes a pino child only when something is logged at its level.
 * Fastify makes a child per request; on a route with its own `logLevel` pino then rebuilds every
 * log method of it, and with redaction that is about 10 µs a request. The collector logs nothing
 * for a request that succeeds, so most of its requests never pay for a logger they do not use.
 */
class LazyChildLogger implements FastifyBaseLogger {
  private real: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  get level(): string {
    return this.real?.level ?? this.options.level ?? this.parent.level;
  }

  set level(level: string) {
    this.materialize().level = level;
  }

  private materialize(): FastifyBaseLogger {
    this.real ??= this.parent.child(this.bindings, this.options);
    return this.real;
  }

  /** Logs through the real child when `name` is at or above this logger's level. */
  emit(name: Method, args: unknown[]): void {
    if ((LEVELS[name] ?? 0) < (LEVELS[this.level] ?? 0)) return;
    const real = this.materialize();
    Reflect.apply(real[name], real, args);
  }

  // On the prototype (below), so a request's logger is one small object, not six closures.
  declare readonly trace: LogFn;
  declare readonly debug: LogFn;
  declare readonly info: LogFn;
  declare readonly warn: LogFn;
  declare readonly error: LogFn;
  declare readonly fatal: LogFn;
  declare readonly silent: LogFn;

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.materialize().child(bindings, options);
  }
}

for (const name of ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const) {
  Object.defineProperty(LazyChildLogger.prototype, name, {
    value: function (this: LazyChildLogger, ...args: unknown[]) {
      this.emit(name, args);
    },
  });
}
Object.defineProperty(LazyChildLogger.prototype, 'silent', { value: () => undefined });

/** Fastify's `childLoggerFactory`: the request's logger, made only when used. */
export function lazyChildLogger(parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  return new LazyChildLogger(parent, bindings, options);
}
