import { createHash } from 'node:crypto';
import { ApiError } from '../../errors.js';
import type { EventFilters, Position } from './repository.js';

/**
 * Opaque keyset cursors: the last position of a page, bound to the partner and the filters that
 * produced it, so a cursor used with another query (or by another partner) is refused, not misread.
 */
export function fingerprint(partnerId: string, filters: EventFilters): string {
  const canonical = JSON.stringify([
    partnerId,
    filters.merchantId ?? null,
    filters.tagId ?? null,
    filters.types ? [...filters.types].sort() : null,
    filters.from?.toISOString() ?? null,
    filters.to?.toISOString() ?? null,
    filters.visitorId ?? null,
    filters.sessionId ?? null,
    // Appended only when set, so a cursor issued before these filters existed stays valid.
    ...(filters.userId !== undefined || filters.source !== undefined ? [filters.userId ?? null, filters.source ?? null] : []),
  ]);
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 16);
}

/** `pinnedFrom`: the default start of the range, fixed at the first page so it does not move while paging. */
export function encodeCursor(position: Position, print: string, pinnedFrom?: Date): string {
  const payload = { t: position.micros.toString(), i: position.id.toString(), q: print, ...(pinnedFrom ? { f: pinnedFrom.getTime() } : {}) };
  return Buffer.from(JSON.stringify(payload)).toString('base64url');
}

const invalid = () => ApiError.validation('cursor', 'is not a cursor of this query: pass pagination.nextCursor of the previous page with the same filters');

export function decodeCursor(cursor: string, print: string): { position: Position; pinnedFrom?: Date } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  const { t, i, q, f } = (parsed ?? {}) as { t?: unknown; i?: unknown; q?: unknown; f?: unknown };
  if (typeof t !== 'string' || typeof i !== 'string' || !/^-?\d{1,19}$/.test(t) || !/^\d{1,19}$/.test(i) || q !== print) throw invalid();
  if (f !== undefined && (typeof f !== 'number' || !Number.isFinite(f))) throw invalid();
  return { position: { micros: BigInt(t), id: BigInt(i) }, ...(typeof f === 'number' ? { pinnedFrom: new Date(f) } : {}) };
}
