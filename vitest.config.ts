import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    pool: 'forks',
    // One migrated database per worker, shared by the files it runs (PGlite takes seconds to open);
    // tests isolate themselves by creating their own partners.
    isolate: false,
    testTimeout: 20_000,
    hookTimeout: 60_000,
  },
});
