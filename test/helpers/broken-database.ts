import { arrayLiteral } from '../../src/db/array-literal.js';
import type { Table } from 'drizzle-orm';
import type { Database, DatabaseHandle } from '../../src/db/client.js';

export const SECRET_DRIVER_TEXT = 'password=hunter2 host=10.1.2.3 relation "merchants" is corrupted';

type AnyFunction = (...args: unknown[]) => unknown;

export type Fault =
  /** SELECT … FROM table throws an unexpected (non-database) error carrying secret-looking text. */
  | { kind: 'select-throws'; table: Table }
  /** INSERT INTO table throws an unexpected (non-database) error. */
  | { kind: 'insert-throws'; table: Table }
  /** Writes to table are sent with a status the CHECK constraint refuses: a real database error. */
  | { kind: 'write-violates-check'; table: Table }
  /** Updates of table also set `values` (say, text in an integer column): a real database error. */
  | { kind: 'update-sets'; table: Table; values: Record<string, unknown> }
  /**
   * Named statements that write (the collector's batch insert, its ignored-event counts) fail as if
   * the connection dropped, the first `times` of them or all; every other query, the named reads
   * (token owner, merchant check, watermark) included, still works.
   */
  | { kind: 'batch-write-fails'; times?: number }
  /**
   * The collector's batch insert gets `value` in place of its first event id: a real database
   * error whose message quotes the value.
   */
  | { kind: 'batch-write-invalid'; value: string }
  /**
   * A slow database: the collector's batch insert is sent only once `hold` resolves (called with
   * the batch's event count, when the flush starts); it then runs as usual.
   */
  | { kind: 'batch-write-held'; hold: (events: number) => Promise<void> };

/** Wraps a builder so that one method's arguments (or call) can be intercepted. */
function intercept<T extends object>(builder: T, method: string, replace: (original: AnyFunction, target: T) => AnyFunction): T {
  return new Proxy(builder, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      if (property === method) return replace(value as AnyFunction, target);
      return (value as AnyFunction).bind(target);
    },
  });
}

/**
 * The real database with one fault injected where the query is built, so the failure reaches the
 * service exactly as a driver's would. Transactions hand out equally faulty transaction objects.
 */
export function withFault(handle: DatabaseHandle, fault: Fault): DatabaseHandle {
  let failuresLeft = fault.kind === 'batch-write-fails' ? (fault.times ?? Infinity) : 0;
  const wrap = (db: Database): Database =>
    new Proxy(db, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        const method = value as AnyFunction;
        if (property === 'transaction') {
          return (run: (tx: Database) => unknown, config?: unknown) => method.call(target, (tx: Database) => run(wrap(tx)), config);
        }
        if (property === 'select' && fault.kind === 'select-throws') {
          return (...args: unknown[]) =>
            intercept(method.apply(target, args) as object, 'from', (from, builder) => (source: unknown, ...rest: unknown[]) => {
              if (source === fault.table) throw new Error(SECRET_DRIVER_TEXT);
              return from.call(builder, source, ...rest);
            });
        }
        if (property === 'update' && fault.kind === 'update-sets') {
          const values = fault.values;
          return (table: unknown) => {
            const builder = method.call(target, table) as object;
            if (table !== fault.table) return builder;
            return intercept(builder, 'set', (original, inner) => (set: unknown) => original.call(inner, { ...(set as object), ...values }));
          };
        }
        if ((property === 'insert' || property === 'update') && (fault.kind === 'insert-throws' || fault.kind === 'write-violates-check')) {
          return (table: unknown) => {
            const builder = method.call(target, table) as object;
            if (table !== fault.table) return builder;
            if (fault.kind === 'insert-throws' && property === 'insert') throw new Error(SECRET_DRIVER_TEXT);
            if (fault.kind !== 'write-violates-check') return builder;
            const step = property === 'insert' ? 'values' : 'set';
            return intercept(builder, step, (original, inner) => (values: unknown) =>
              original.call(inner, { ...(values as object), status: 'corrupted' }),
            );
          };
        }
        return method.bind(target);
      },
    });
  const run: DatabaseHandle['run'] = (statement, params) => {
    if (failuresLeft > 0 && /\b(insert|update|delete)\b/i.test(statement.text)) {
      failuresLeft--;
      return Promise.reject(Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' }));
    }
    // The batch statement's second parameter is its tag ids, as an array literal of uuids ({"…","…"}).
    const tagIds = statement.text.includes('insert into events') && typeof params[1] === 'string' ? params[1].slice(1, -1).split(',').map((id) => id.replace(/^"|"$/g, '')) : undefined;
    if (fault.kind === 'batch-write-invalid' && tagIds) {
      const [first, , ...rest] = params;
      return handle.run(statement, [first, arrayLiteral([fault.value, ...tagIds.slice(1)]), ...rest]);
    }
    if (fault.kind === 'batch-write-held' && tagIds) {
      return fault.hold(tagIds.length).then(() => handle.run(statement, params));
    }
    return handle.run(statement, params);
  };
  return { ...handle, db: wrap(handle.db), run };
}

/** A slow database: every collector batch insert is held `ms` before it is sent. */
export function slowWrites(handle: DatabaseHandle, ms: number): DatabaseHandle {
  return withFault(handle, { kind: 'batch-write-held', hold: () => new Promise((resolve) => setTimeout(resolve, ms)) });
}
