import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface Server {
  url: string;
  /** MarkTag's admin listener (Admin API, /metrics); the public URL for other servers. */
  adminUrl: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts a child process and waits for the line that tells its URL (named groups `url` and `admin` when it has two). */
export function startProcess(command: string, args: string[], env: Record<string, string | undefined>, pattern: RegExp, cwd = ROOT): Promise<Server> {
  const child = spawn(command, args, { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`did not start: ${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = pattern.exec(output);
      const url = match?.groups?.url ?? match?.[1];
      if (url) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        child.stderr?.resume();
        resolve({
          url,
          adminUrl: match?.groups?.admin ?? url,
          child,
          stop: () =>
            new Promise((done) => {
              if (child.exitCode !== null) return done();
              child.once('exit', () => done());
              child.kill('SIGTERM');
            }),
        });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`exited with ${String(code)}: ${output}`)));
  });
}

/** The MarkTag server, built, as an operator runs it: this checkout's, or the one built in `root` (another release). */
export function startMarktag(env: Record<string, string | undefined>, root = ROOT): Promise<Server> {
  return startProcess(
    process.execPath,
    ['bin/marktag.js', 'serve'],
    { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', MARKTAG_REVERIFY_INTERVAL: 'off', ...env },
    /"adminUrl":"(?<admin>http:\/\/[^"]+)".*MarkTag listening on (?<url>http:\/\/[^"\s]+)/,
    root,
  );
}

export function startBaseline(): Promise<Server> {
  return startProcess(process.execPath, ['bench/baseline-server.mjs'], {}, /listening on (http:\/\/\S+)/);
}

/** Peak resident memory of a process so far (Linux VmHWM), in MB. */
export function peakRssMb(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? NaN);
    return kb / 1024;
  } catch {
    return NaN;
  }
}
