#!/usr/bin/env node
// The `marktag` command. Runs the compiled CLI; `npm run build` (run by `npm ci` and `npm start`) makes it.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('marktag: the build is missing; run "npm run build" first\n');
  process.exit(1);
}
const { main } = await import(entry.href);
await main(process.argv.slice(2));
