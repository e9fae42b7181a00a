import { isIP } from 'node:net';

/** An IPv6 address as four big-endian 32-bit words, so comparisons stay on small integers. */
export type Ipv6Words = readonly [number, number, number, number];

export type ParsedAddress = { readonly family: 4; readonly value: number } | { readonly family: 6; readonly words: Ipv6Words };

/** Dotted quad to an unsigned 32-bit integer; the caller has checked the syntax (isIP). */
function ipv4Value(text: string): number {
  let value = 0;
  let octet = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e /* . */) {
      value = value * 256 + octet;
      octet = 0;
    } else {
      octet = octet * 10 + (c - 0x30);
    }
  }
  return value * 256 + octet;
}

function hexDigit(c: number): number {
  if (c <= 0x39) return c - 0x30;
  return (c | 0x20) - 0x57; // a–f, either case
}

/**
 * Colon-hex (with :: and an optional dotted tail) to four words, in one pass over the characters. The
 * caller has checked the syntax (isIP), so this only counts what it finds: null if it is not 128 bits.
 */
function ipv6Words(text: string): Ipv6Words | null {
  const hextets = [0, 0, 0, 0, 0, 0, 0, 0];
  let count = 0;
  let gap = -1;
  let value = 0;
  let digits = 0;
  let groupStart = 0;
  for (let i = 0; i < text.length && count < 8; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x3a /* : */) {
      if (i > 0 && text.charCodeAt(i - 1) === 0x3a) gap = count;
      else if (digits > 0) hextets[count++] = value;
      value = 0;
      digits = 0;
      groupStart = i + 1;
    } else if (c === 0x2e /* . */) {
      if (count > 6) return null;
      const quad = ipv4Value(text.slice(groupStart));
      hextets[count++] = quad >>> 16;
      hextets[count++] = quad & 0xffff;
      digits = 0;
      break;
    } else {
      value = value * 16 + hexDigit(c);
      digits++;
    }
  }
  if (digits > 0) {
    if (count === 8) return null;
    hextets[count++] = value;
  }
  if (gap >= 0) {
    // Slide what followed "::" to the end and zero what it stood for.
    const shift = 8 - count;
    for (let i = count - 1; i >= gap; i--) hextets[i + shift] = hextets[i] as number;
    for (let i = gap; i < gap + shift; i++) hextets[i] = 0;
  } else if (count !== 8) {
    return null;
  }
  const word = (i: number): number => ((hextets[2 * i] as number) * 0x10000 + (hextets[2 * i + 1] as number)) >>> 0;
  return [word(0), word(1), word(2), word(3)];
}

/**
 * The numeric form of a client address, with IPv4-mapped IPv6 (::ffff:a.b.c.d, how a dual-stack socket
 * reports IPv4 peers) folded into IPv4. Null for anything that is not a bare address: malformed text,
 * brackets, ports, and zone indexes (a scoped address is never a global one, so it has no location).
 */
export function parseAddress(address: string): ParsedAddress | null {
  const family = isIP(address);
  if (family === 4) return { family: 4, value: ipv4Value(address) };
  if (family !== 6 || address.includes('%')) return null;
  const words = ipv6Words(address);
  if (words === null) return null;
  if (words[0] === 0 && words[1] === 0 && words[2] === 0xffff) return { family: 4, value: words[3] };
  return { family: 6, words };
}
