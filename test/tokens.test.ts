import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BASE62_ALPHABET, encodeBase62 } from '../src/lib/base62.js';
import type { TokensRepository } from '../src/modules/tokens/repository.js';
import { TokensService } from '../src/modules/tokens/service.js';
import { checksumOf, displayPrefix, generateToken, hashToken, isWellFormedToken } from '../src/modules/tokens/token-format.js';

describe('token format', () => {
  it('is mp_live_ + 30 base62 characters + a 6-character checksum', () => {
    for (let i = 0; i < 200; i++) {
      const token = generateToken();
      expect(token).toMatch(/^mp_live_[0-9A-Za-z]{36}$/);
      expect(isWellFormedToken(token)).toBe(true);
    }
  });

  it('uses CRC32 of the random part in base62, left-padded with 0', () => {
    const random = 'abcdefghijklmnopqrstuvwxyz0123';
    let n = crc32(random);
    let expected = '';
    while (n > 0) {
      expected = BASE62_ALPHABET[n % 62] + expected;
      n = Math.floor(n / 62);
    }
    expect(checksumOf(random)).toBe(expected.padStart(6, '0'));
    expect(encodeBase62(0, 6)).toBe('000000');
    expect(encodeBase62(61, 6)).toBe('00000z');
    expect(encodeBase62(62, 6)).toBe('000010');
    expect(encodeBase62(0xffffffff, 6)).toBe('4gfFC3');
  });

  it('refuses wrong shapes and checksums', () => {
    const token = generateToken();
    const flipped = token.slice(0, -1) + (token.endsWith('0') ? '1' : '0');
    for (const bad of [
      flipped,
      token.replace('mp_live_', 'mp_test_'),
      token.slice(0, -1),
      `${token}0`,
      token.replace(/^(mp_live_.)/, '$1-'),
      '',
      'mp_live_',
      token.toUpperCase(),
    ]) {
      expect(isWellFormedToken(bad), bad).toBe(false);
    }
  });

  it('is random: no two of many tokens are alike', () => {
    const tokens = new Set(Array.from({ length: 5000 }, generateToken));
    expect(tokens.size).toBe(5000);
  });

  it('hashes with SHA-256 and shows only a short prefix', () => {
    const token = generateToken();
    expect(hashToken(token)).toBe(createHash('sha256').update(token).digest('hex'));
    expect(displayPrefix(token)).toBe(token.slice(0, 12));
    expect(displayPrefix(token)).toMatch(/^mp_live_.{4}$/);
  });
});

describe('TokensService.authenticate', () => {
  function serviceWithLookups(): { service: TokensService; lookups: string[] } {
    const lookups: string[] = [];
    const repository = {
      findOwnerByHash: (hash: string) => {
        lookups.push(hash);
        return Promise.resolve(undefined);
      },
    } as unknown as TokensRepository;
    return { service: new TokensService(repository), lookups };
  }

  it('refuses a malformed token or a bad checksum without a database look-up', async () => {
    const { service, lookups } = serviceWithLookups();
    const token = generateToken();
    const badChecksum = token.slice(0, -6) + (token.endsWith('000000') ? '000001' : '000000');
    expect(await service.authenticate('mp_live_nope')).toEqual({ ok: false, reason: 'malformed' });
    expect(await service.authenticate(badChecksum)).toEqual({ ok: false, reason: 'malformed' });
    expect(lookups).toEqual([]);
  });

  it('looks a well-formed token up by its hash only', async () => {
    const { service, lookups } = serviceWithLookups();
    const token = generateToken();
    expect(await service.authenticate(token)).toEqual({ ok: false, reason: 'unknown' });
    expect(lookups).toEqual([hashToken(token)]);
  });
});
