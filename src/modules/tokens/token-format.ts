import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { encodeBase62, randomBase62 } from '../../lib/base62.js';

/**
 * Partner API tokens: `mp_live_` + 30 random base62 characters + a 6-character checksum (CRC32 of
 * the random part in base62). The checksum lets us refuse a mistyped or made-up token without a
 * database look-up, and lets secret scanners recognise a real one.
 */
export const TOKEN_PREFIX = 'mp_live_';
const RANDOM_LENGTH = 30;
const CHECKSUM_LENGTH = 6;
const TOKEN_SHAPE = /^mp_live_([0-9A-Za-z]{30})([0-9A-Za-z]{6})$/;
/** How much of a token a list may show: the prefix and four random characters. */
const DISPLAY_LENGTH = TOKEN_PREFIX.length + 4;

export function checksumOf(randomPart: string): string {
  return encodeBase62(crc32(randomPart), CHECKSUM_LENGTH);
}

export function generateToken(): string {
  const random = randomBase62(RANDOM_LENGTH);
  return `${TOKEN_PREFIX}${random}${checksumOf(random)}`;
}

/** True when the token has the documented shape and its checksum matches. */
export function isWellFormedToken(token: string): boolean {
  const match = TOKEN_SHAPE.exec(token);
  if (!match) return false;
  const [, random = '', checksum] = match;
  return checksumOf(random) === checksum;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function displayPrefix(token: string): string {
  return token.slice(0, DISPLAY_LENGTH);
}
