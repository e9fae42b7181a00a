import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = fileURLToPath(new URL('../../src/cli/run.ts', import.meta.url));

/** Runs `marktag …` from source in a child process, as an operator would run the built command. */
export function spawnCli(args: string[], env: Record<string, string | undefined>): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['--import', 'tsx', CLI, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
  });
}

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function finished(child: ChildProcessWithoutNullStreams): Promise<Finished> {
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

export interface ServerUrls {
  /** The public listener: tracker, collector, Partners API. */
  url: string;
  /** The admin listener: Admin API, its reference, /metrics. */
  adminUrl: string;
}

/** Waits for the server's "listening" log line and returns its public URL. */
export async function listeningUrl(child: ChildProcessWithoutNullStreams, timeoutMs = 30_000): Promise<string> {
  return (await listeningUrls(child, timeoutMs)).url;
}

/** Waits for the server's "listening" log line and returns the URLs of both its listeners. */
export function listeningUrls(child: ChildProcessWithoutNullStreams, timeoutMs = 30_000): Promise<ServerUrls> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    let errors = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${buffer}${errors}`)), timeoutMs);
    child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const line = buffer.split('\n').find((text) => text.includes('MarkTag listening on'));
      const url = line && /MarkTag listening on (http:\/\/[^"\s]+)/.exec(line)?.[1];
      const adminUrl = line && /"adminUrl":"(http:\/\/[^"]+)"/.exec(line)?.[1];
      if (url && adminUrl) {
        clearTimeout(timer);
        resolve({ url, adminUrl });
      }
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${String(code)}: ${buffer}${errors}`)));
  });
}

/** A loopback port nothing listens on (at the moment of asking). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
