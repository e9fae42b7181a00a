import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { engine, queryRows, testDatabase } from './helpers/database.js';

/** CI names the engine it means to test, so a run that silently fell back to the other one fails. */
describe('the database engine under test', () => {
  it('is the one CI asked for', async () => {
    const expected = process.env.TEST_EXPECT_ENGINE;
    const database = await testDatabase();
    expect(database.engine).toBe(engine);
    if (expected) expect(database.engine).toBe(expected);
    const [row] = await queryRows<{ version: string }>(database, sql`select version() as version`);
    expect(row?.version).toMatch(/^PostgreSQL \d+/);
  });
});
