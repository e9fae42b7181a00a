import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CreatePartnerResponse } from '../src/modules/admin/schemas.js';
import { finished, listeningUrl, spawnCli } from './helpers/process.js';

/**
 * The real `marktag serve` in a child process: start-up, the generated admin token, the CLI
 * against it, persistence across a restart, and graceful shutdown on SIGTERM. On PostgreSQL when
 * TEST_DATABASE_URL is set, else on embedded PGlite in a fresh data directory.
 */
const dataDir = mkdtempSync(path.join(tmpdir(), 'marktag-server-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const env = {
  PORT: '0',
  HOST: '127.0.0.1',
  MARKTAG_DATA_DIR: dataDir,
  LOG_LEVEL: 'info',
  ...(process.env.TEST_DATABASE_URL ? { DATABASE_URL: process.env.TEST_DATABASE_URL } : {}),
};

/** Everything the server processes printed: checked for secrets at the end. */
let serverOutput = '';

async function withServer<T>(use: (url: string) => Promise<T>): Promise<T> {
  const server = spawnCli(['serve'], env);
  const exit = finished(server);
  void exit.then(({ stdout, stderr }) => (serverOutput += stdout + stderr));
  try {
    const url = await listeningUrl(server);
    return await use(url);
  } finally {
    const started = Date.now();
    server.kill('SIGTERM');
    const { code } = await exit;
    expect(code).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
  }
}

describe('marktag serve', () => {
  it('starts, generates a 0600 admin token, serves the CLI, keeps data across a restart and stops on SIGTERM', async () => {
    const partner = await withServer(async (url) => {
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      expect(statSync(path.join(dataDir, 'admin-token')).mode & 0o777).toBe(0o600);

      // The CLI finds the admin token in the data directory by itself.
      const created = await finished(spawnCli(['partner', 'create', '--name', 'Process Partner', '--json'], { MARKTAG_URL: url, MARKTAG_DATA_DIR: dataDir }));
      expect(created.stderr).toBe('');
      expect(created.code).toBe(0);
      return JSON.parse(created.stdout) as CreatePartnerResponse;
    });

    await withServer(async (url) => {
      const me = await fetch(`${url}/v1/partners/me`, { headers: { authorization: `Bearer ${partner.token}` } });
      expect(me.status).toBe(200);
      expect(await me.json()).toMatchObject({ partnerId: partner.partnerId, name: 'Process Partner' });
      await fetch(`${url}/v1/partners/me`, { headers: { authorization: `Bearer ${partner.token}x` } });
    });

    // The logs name the admin-token file, never a token.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const adminToken = readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim();
    expect(serverOutput).toContain('admin-token');
    expect(serverOutput).not.toContain(adminToken);
    expect(serverOutput).not.toContain(partner.token);
    expect(serverOutput).not.toContain('mp_live_');
  }, 90_000);

  it('refuses a bad configuration with one line naming the variable', async () => {
    const result = await finished(spawnCli(['serve'], { ...env, PORT: 'eighty' }));
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('marktag: invalid configuration: PORT must be a whole number, got "eighty"\n');
  });

  it('says so in one line when the database cannot be reached', async () => {
    const result = await finished(spawnCli(['serve'], { ...env, DATABASE_URL: 'postgres://nobody@127.0.0.1:9/none' }));
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^marktag: /);
  });
});
