import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CreatePartnerResponse } from '../src/modules/admin/schemas.js';
import { finished, listeningUrls, spawnCli, type ServerUrls } from './helpers/process.js';

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

async function withServer<T>(use: (urls: ServerUrls) => Promise<T>, extraEnv: Record<string, string> = {}): Promise<T> {
  const server = spawnCli(['serve'], { ...env, ...extraEnv });
  const exit = finished(server);
  void exit.then(({ stdout, stderr }) => (serverOutput += stdout + stderr));
  try {
    return await use(await listeningUrls(server));
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
    const partner = await withServer(async ({ url, adminUrl }) => {
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      expect(statSync(path.join(dataDir, 'admin-token')).mode & 0o777).toBe(0o600);

      // The CLI finds the admin token in the data directory by itself, and talks to the admin listener.
      const created = await finished(spawnCli(['partner', 'create', '--name', 'Process Partner', '--json'], { MARKTAG_URL: adminUrl, MARKTAG_DATA_DIR: dataDir }));
      expect(created.stderr).toBe('');
      expect(created.code).toBe(0);
      return JSON.parse(created.stdout) as CreatePartnerResponse;
    });

    await withServer(async ({ url }) => {
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

  it('serves the Admin API and /metrics on their own listener, on loopback, and never on the public one', async () => {
    // The public listener on every interface, as in production; the admin one left at its default.
    await withServer(
      async ({ url, adminUrl }) => {
        expect(new URL(adminUrl).hostname).toBe('127.0.0.1');
        expect(new URL(adminUrl).port).not.toBe(new URL(url).port);
        const adminToken = readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim();
        const auth = { authorization: `Bearer ${adminToken}` };

        const onAdmin = await fetch(`${adminUrl}/v1/admin/partners`, { headers: auth });
        expect(onAdmin.status).toBe(200);
        const onPublic = await fetch(`${url}/v1/admin/partners`, { headers: auth });
        expect(onPublic.status).toBe(404);
        expect(((await onPublic.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
        expect((await fetch(`${url}/metrics`)).status).toBe(404);
        const metrics = await fetch(`${adminUrl}/metrics`);
        expect(metrics.status).toBe(200);
        expect(metrics.headers.get('content-type')).toContain('text/plain');
        expect(await metrics.text()).toContain('marktag_http_requests_total{listener="admin",method="GET",route="/v1/admin/partners",status="200"} 1');

        // From another interface of the machine, the public listener answers and the admin one is not there at all.
        const external = Object.values(networkInterfaces())
          .flat()
          .find((address) => address && address.family === 'IPv4' && !address.internal)?.address;
        if (external) {
          expect((await fetch(`http://${external}:${new URL(url).port}/healthz`)).status).toBe(200);
          await expect(fetch(`http://${external}:${new URL(adminUrl).port}/metrics`)).rejects.toThrow();
        }
      },
      { HOST: '0.0.0.0' },
    );
  }, 60_000);

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
