import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBase62 } from './lib/base62.js';

export const ADMIN_TOKEN_FILE = 'admin-token';

export function adminTokenPath(dataDir: string): string {
  return path.join(dataDir, ADMIN_TOKEN_FILE);
}

/** Reads the generated admin token, or undefined when the server has not generated one. */
export function readAdminTokenFile(dataDir: string): string | undefined {
  try {
    return readFileSync(adminTokenPath(dataDir), 'utf8').trim() || undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * The operator's token: MARKTAG_ADMIN_TOKEN when set, else the one in `<data dir>/admin-token`,
 * generated (mode 0600) on first start. `created` tells the caller to say where it is.
 */
export function ensureAdminToken(configured: string | undefined, dataDir: string): { token: string; file?: string; created: boolean } {
  if (configured !== undefined) return { token: configured, created: false };
  const file = adminTokenPath(dataDir);
  const existing = readAdminTokenFile(dataDir);
  if (existing !== undefined) {
    // Never leave the secret readable by others, whoever copied the file around.
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    return { token: existing, file, created: false };
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const token = `mt_admin_${randomBase62(40)}`;
  writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return { token, file, created: true };
}
