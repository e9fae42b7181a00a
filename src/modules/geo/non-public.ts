import type { Ipv6Words } from './address.js';

/**
 * Blocks that no client on the internet comes from: loopback, private, shared (carrier-grade NAT),
 * link-local, unspecified, documentation, benchmarking, multicast and reserved (IANA special-purpose
 * registries). The shipped data wrongly places some of them (172.16.0.0/12 and 192.168.0.0/16 in AU,
 * 2001:db8::/32 in JP), so these are answered before any lookup. node:net's BlockList says the same but costs
 * about 1 µs a check, the whole budget of an IPv4 lookup; these are a few integer compares.
 */
const IPV4_BLOCKS: readonly (readonly [base: number, prefix: number])[] = [
  [0x00000000, 8], // 0.0.0.0/8 "this network", including the unspecified address
  [0x0a000000, 8], // 10.0.0.0/8 private
  [0x64400000, 10], // 100.64.0.0/10 shared address space (CGNAT)
  [0x7f000000, 8], // 127.0.0.0/8 loopback
  [0xa9fe0000, 16], // 169.254.0.0/16 link-local
  [0xac100000, 12], // 172.16.0.0/12 private
  [0xc0000000, 24], // 192.0.0.0/24 IETF protocol assignments
  [0xc0000200, 24], // 192.0.2.0/24 documentation (TEST-NET-1)
  [0xc0a80000, 16], // 192.168.0.0/16 private
  [0xc6120000, 15], // 198.18.0.0/15 benchmarking
  [0xc6336400, 24], // 198.51.100.0/24 documentation (TEST-NET-2)
  [0xcb007100, 24], // 203.0.113.0/24 documentation (TEST-NET-3)
  [0xe0000000, 4], // 224.0.0.0/4 multicast
  [0xf0000000, 4], // 240.0.0.0/4 reserved, including the limited broadcast address
];

/** Blocks as [word0, word1, word2, word3, prefix]. */
const IPV6_BLOCKS: readonly (readonly [number, number, number, number, number])[] = [
  [0, 0, 0, 0, 128], // ::/128 unspecified
  [0, 0, 0, 1, 128], // ::1/128 loopback
  [0x01000000, 0, 0, 0, 64], // 100::/64 discard-only
  [0x20010002, 0, 0, 0, 48], // 2001:2::/48 benchmarking
  [0x20010db8, 0, 0, 0, 32], // 2001:db8::/32 documentation
  [0x3fff0000, 0, 0, 0, 20], // 3fff::/20 documentation
  [0xfc000000, 0, 0, 0, 7], // fc00::/7 unique local
  [0xfe800000, 0, 0, 0, 10], // fe80::/10 link-local
  [0xfec00000, 0, 0, 0, 10], // fec0::/10 site-local (deprecated, still never global)
  [0xff000000, 0, 0, 0, 8], // ff00::/8 multicast
];

/** Whether the top `bits` (0–32) of two words agree. */
function samePrefix(a: number, b: number, bits: number): boolean {
  if (bits <= 0) return true;
  const shift = 32 - Math.min(bits, 32);
  return a >>> shift === b >>> shift;
}

export function isNonPublicIpv4(value: number): boolean {
  for (const [base, prefix] of IPV4_BLOCKS) if (samePrefix(value, base, prefix)) return true;
  return false;
}

export function isNonPublicIpv6(words: Ipv6Words): boolean {
  for (const block of IPV6_BLOCKS) {
    const prefix = block[4];
    let matches = true;
    for (let i = 0; i < 4 && matches; i++) matches = samePrefix(words[i] ?? 0, block[i] ?? 0, prefix - 32 * i);
    if (matches) return true;
  }
  return false;
}
