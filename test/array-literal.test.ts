import { createRequire } from 'node:module';
import fc from 'fast-check';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { arrayLiteral } from '../src/db/array-literal.js';
import { queryRows, testDatabase } from './helpers/database.js';

// Strings PostgreSQL text can hold (no NUL), biased to what an array literal must escape or quote.
const text = fc.oneof(
  fc.string({ unit: fc.constantFrom('"', '\\', ',', '{', '}', ' ', 'NULL', 'a', "'", '\n', 'é', '😀') }),
  fc.string({ unit: 'grapheme' }),
).filter((s) => !s.includes('\u0000'));

describe('arrayLiteral', () => {
  it('is read back by PostgreSQL as the same text array, whatever the strings hold', async () => {
    const database = await testDatabase();
    await fc.assert(
      fc.asyncProperty(fc.array(fc.option(text, { nil: null }), { maxLength: 12 }), async (items) => {
        const [row] = await queryRows<{ items: (string | null)[] }>(database, sql`select ${arrayLiteral(items)}::text[] as items`);
        expect(row?.items).toEqual(items);
      }),
      { numRuns: 200 },
    );
  });

  it('gives numbers, booleans and uuids their own types', async () => {
    const database = await testDatabase();
    const [row] = await queryRows<{ n: string[]; b: boolean[]; u: string[] }>(
      database,
      sql`select ${arrayLiteral([42.5, null, -1e-7])}::numeric[]::text[] as n, ${arrayLiteral([true, false, null])}::boolean[] as b,
                 ${arrayLiteral(['01a24289-1a05-7612-96db-c9a4e460fcd3'])}::uuid[] as u`,
    );
    expect(row).toEqual({ n: ['42.5', null, '-0.0000001'], b: [true, false, null], u: ['01a24289-1a05-7612-96db-c9a4e460fcd3'] });
  });

  it('writes what the pg driver writes for the same array', async () => {
    // The driver's own serialiser (not part of its typed API).
    const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as { prepareValue: (value: unknown) => unknown };
    fc.assert(
      fc.property(fc.array(fc.option(text, { nil: null }), { maxLength: 8 }), (items) => {
        expect(arrayLiteral(items)).toBe(prepareValue(items));
      }),
    );
  });
});
