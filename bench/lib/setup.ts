import { randomUUID } from 'node:crypto';
import pg from 'pg';

export const ADMIN_TOKEN = 'mt_admin_bench_0123456789abcdefghijkl';
export const BROWSER_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

/** A fresh, empty database for the run, on the server the URL names. */
export async function freshDatabase(serverUrl: string, name: string): Promise<string> {
  const admin = new URL(serverUrl);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`drop database if exists "${name}" with (force)`);
    await client.query(`create database "${name}"`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function call<T>(base: string, token: string, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

export interface Tenant {
  token: string;
  partnerId: string;
  merchants: { merchantId: string; tagId: string }[];
}

/**
 * A partner (onboarded on the admin listener) with `count` merchants, each with a live (preverified)
 * tag, created through the Partners API `concurrency` at a time (merchants keep their order).
 */
export async function tenant(server: { url: string; adminUrl: string }, count: number, concurrency = 1): Promise<Tenant> {
  const base = server.url;
  const domain = `bench${randomUUID().slice(0, 8)}.test`;
  const partner = await call<{ token: string; partnerId: string }>(server.adminUrl, ADMIN_TOKEN, 'POST', '/v1/admin/partners', { name: 'Bench', domain });
  const merchants = new Array<{ merchantId: string; tagId: string }>(count);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const { merchantId } = await call<{ merchantId: string }>(base, partner.token, 'POST', '/v1/partners/merchant', { name: `M${i}` });
      const { tagId } = await call<{ tagId: string }>(base, partner.token, 'POST', '/v1/partners/marktag/generate', { merchantId, domain: `m${i}.${domain}` });
      merchants[i] = { merchantId, tagId };
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, count)) }, worker));
  return { token: partner.token, partnerId: partner.partnerId, merchants };
}

/** Percentile of sorted numbers. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}
