import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { openPglite } from '../src/db/client.js';

/**
 * `npm run openapi:lint`: builds the app exactly as the server does (without listening), writes
 * the documents both listeners serve at /openapi.json (the public one and the admin one) to
 * temporary files, and lints them with Redocly's recommended rules (redocly.yaml). Exits with
 * Redocly's status: any error fails CI.
 */
const root = fileURLToPath(new URL('..', import.meta.url));

async function servedDocuments(): Promise<{ public: unknown; admin: unknown }> {
  // The configuration of this environment (MARKTAG_PUBLIC_URL names the server), minus what
  // would reach outside: no database server, no Redis. Nothing is queried to build the document.
  const config = loadConfig({ ...process.env, DATABASE_URL: '', REDIS_URL: '', LOG_LEVEL: 'silent' });
  const database = await openPglite(undefined);
  const adminToken = randomBytes(24).toString('base64url');
  // The tracker's bytes do not shape the document; a stub spares a build of the tracker first.
  const stub = { body: Buffer.alloc(0), etag: '"lint"' };
  const app = await buildApp(config, { database, adminToken, logger: false, tracker: { identity: stub, gzip: stub, br: stub } });
  try {
    await app.ready();
    await app.admin.ready();
    return { public: app.swagger(), admin: app.admin.swagger() };
  } finally {
    await app.close();
    await database.close();
  }
}

const directory = mkdtempSync(path.join(tmpdir(), 'marktag-openapi-'));
try {
  const documents = await servedDocuments();
  const files = Object.entries(documents).map(([listener, document]) => {
    const file = path.join(directory, `openapi-${listener}.json`);
    writeFileSync(file, JSON.stringify(document, null, 2));
    return file;
  });
  const redocly = path.join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'redocly.cmd' : 'redocly');
  const result = spawnSync(redocly, ['lint', ...files, '--config', path.join(root, 'redocly.yaml'), '--format', 'stylish'], {
    stdio: 'inherit',
    env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
  });
  process.exitCode = result.status ?? 1;
} finally {
  rmSync(directory, { recursive: true, force: true });
}
