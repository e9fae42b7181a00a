import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, finished, listeningUrl } from './helpers/process.js';

/**
 * `npm start` as a container runtime or systemd runs it: from a fresh copy of the project (no build
 * output yet), it builds, serves, and a SIGTERM sent to the npm process reaches the server, which
 * stops. The copy keeps the build away from the worktree's own dist/, which other tests read.
 */
const SOURCES = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'bin', 'src', 'tracker/src', 'tracker/build.ts', 'tracker/tsconfig.json'];

const project = mkdtempSync(path.join(tmpdir(), 'marktag-npm-start-'));
afterAll(() => rmSync(project, { recursive: true, force: true }));

function freshCopy(): void {
  for (const entry of SOURCES) cpSync(path.join(ROOT, entry), path.join(project, entry), { recursive: true });
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(project, 'node_modules'), 'dir');
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function refusesConnections(url: string): Promise<boolean> {
  try {
    await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
    return false;
  } catch {
    return true;
  }
}

describe('npm start', () => {
  it('builds a fresh copy, serves, and stops when the npm process gets SIGTERM', async () => {
    freshCopy();
    const child = spawn('npm', ['start'], {
      cwd: project,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        npm_config_update_notifier: 'false',
        PORT: '0',
        HOST: '127.0.0.1',
        MARKTAG_ADMIN_PORT: '0',
        MARKTAG_DATA_DIR: path.join(project, '.marktag'),
        MARKTAG_REVERIFY_INTERVAL: 'off',
        LOG_LEVEL: 'info',
        ...(process.env.TEST_DATABASE_URL ? { DATABASE_URL: process.env.TEST_DATABASE_URL } : {}),
      },
    });
    const exit = finished(child);
    let serverPid: number | undefined;
    child.stdout.on('data', (chunk: Buffer) => {
      const pid = /"pid":(\d+)/.exec(chunk.toString())?.[1];
      serverPid ??= pid === undefined ? undefined : Number(pid);
    });
    try {
      const url = await listeningUrl(child, 150_000);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect(serverPid).toBeDefined();
      expect(serverPid).not.toBe(child.pid);

      child.kill('SIGTERM');
      const deadline = Date.now() + 10_000;
      while (!(await refusesConnections(url)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await refusesConnections(url)).toBe(true);
      const { code } = await exit;
      expect(code).toBe(0);
      expect(isRunning(serverPid as number)).toBe(false);
    } finally {
      // Whatever happened, no server outlives the test.
      if (serverPid !== undefined && isRunning(serverPid)) process.kill(serverPid, 'SIGKILL');
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 180_000);
});
