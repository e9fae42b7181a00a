import type { Table } from 'drizzle-orm';
import type { Database, DatabaseHandle } from '../../src/db/client.js';

export const SECRET_DRIVER_TEXT = 'password=hunter2 host=10.1.2.3 relation "merchants" is corrupted';

type AnyFunction = (...args: unknown[]) => unknown;

/**
 * The real database, except that any SELECT from `table` throws an unexpected error carrying
 * text that must never reach a client. Transactions hand out equally broken transaction objects.
 */
export function withBrokenTable(handle: DatabaseHandle, table: Table): DatabaseHandle {
  const wrap = (db: Database): Database =>
    new Proxy(db, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        const method = value as AnyFunction;
        if (property === 'select') {
          return (...args: unknown[]) => {
            const builder = method.apply(target, args) as { from: AnyFunction };
            return new Proxy(builder, {
              get(b, p, r) {
                const inner: unknown = Reflect.get(b, p, r);
                if (p === 'from') {
                  return (source: unknown, ...rest: unknown[]) => {
                    if (source === table) throw new Error(SECRET_DRIVER_TEXT);
                    return (inner as AnyFunction).call(b, source, ...rest);
                  };
                }
                return typeof inner === 'function' ? (inner as AnyFunction).bind(b) : inner;
              },
            });
          };
        }
        if (property === 'transaction') {
          return (run: (tx: Database) => unknown, config?: unknown) =>
            method.call(target, (tx: Database) => run(wrap(tx)), config);
        }
        return method.bind(target);
      },
    });
  return { ...handle, db: wrap(handle.db) };
}
