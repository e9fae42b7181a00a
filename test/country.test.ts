import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { BlockList } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CountryLookup, loadCountryDatabase } from '../src/modules/geo/index.js';

/*
 * The lookup reads the package's "-num" CSVs; the reference here reads its dotted and colon-hex CSVs,
 * parses them its own way and scans every row: the last row that contains an address gives its country
 * (the data nests more specific rows after the blocks they sit in), and the blocks that no internet
 * client comes from give none, whatever the data says about them.
 */

const dataDirectory = dirname(createRequire(import.meta.url).resolve('@ip-location-db/geo-whois-asn-country/package.json'));

/** The rows of one file, in file order; IPv4 as Numbers, so that scanning all of them stays quick. */
interface Reference<Value> {
  starts: Value[];
  ends: Value[];
  countries: string[];
}

function ipv4Value(text: string): number {
  return text.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);
}

function ipv6Value(text: string): bigint {
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right];
  if (groups.length !== 8) throw new Error(`Not colon-hex: ${text}`);
  return BigInt(`0x${groups.map((group) => group.padStart(4, '0')).join('')}`);
}

function readReference<Value>(file: string, parse: (text: string) => Value): Reference<Value> {
  const reference: Reference<Value> = { starts: [], ends: [], countries: [] };
  for (const line of readFileSync(join(dataDirectory, file), 'utf8').split('\n')) {
    if (!line) continue;
    const [start = '', end = '', country = ''] = line.split(',');
    reference.starts.push(parse(start));
    reference.ends.push(parse(end));
    reference.countries.push(country);
  }
  return reference;
}

const nonPublic = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) nonPublic.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 128], ['::1', 128], ['100::', 64], ['2001:2::', 48], ['2001:db8::', 32], ['3fff::', 20], ['fc00::', 7],
  ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) nonPublic.addSubnet(network, prefix, 'ipv6');

let ipv4: Reference<number>;
let ipv6: Reference<bigint>;

function dotted(value: number): string {
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff].join('.');
}

/** Uncompressed colon-hex, or the compressed form WHATWG URL parsing gives: both must parse. */
function colonHex(value: bigint, compressed: boolean): string {
  const full = Array.from({ length: 8 }, (_, i) => ((value >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(':');
  return compressed ? new URL(`http://[${full}]/`).hostname.slice(1, -1) : full;
}

function expected<Value extends number | bigint>(reference: Reference<Value>, value: Value, text: string, family: 'ipv4' | 'ipv6'): string | null {
  if (nonPublic.check(text, family)) return null;
  let country: string | null = null;
  for (let i = 0; i < reference.starts.length; i++) {
    if ((reference.starts[i] as Value) <= value && value <= (reference.ends[i] as Value)) country = reference.countries[i] ?? null;
  }
  return country && /^[A-Z]{2}$/.test(country) && country !== 'ZZ' ? country : null;
}

const expectedIpv4 = (text: string): string | null => expected(ipv4, ipv4Value(text), text, 'ipv4');
const expectedIpv6 = (text: string): string | null => expected(ipv6, ipv6Value(text), text, 'ipv6');

/** Deterministic, so a failure names the same addresses on every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

function randomBelow(next: () => number, bound: bigint): bigint {
  let value = 0n;
  for (let i = 0; i < 5; i++) value = (value << 32n) | BigInt(Math.floor(next() * 2 ** 32));
  return value % bound;
}

let lookup: CountryLookup;

beforeAll(async () => {
  lookup = await loadCountryDatabase();
  ipv4 = readReference('geo-whois-asn-country-ipv4.csv', ipv4Value);
  ipv6 = readReference('geo-whois-asn-country-ipv6.csv', ipv6Value);
});

describe('country lookup: addresses without a location', () => {
  it.each([
    '127.0.0.1', '127.255.255.254', '::1', '10.1.2.3', '172.16.5.4', '172.31.255.255', '192.168.0.1', '169.254.10.20',
    'fe80::1', 'fe80::1%eth0', '0.0.0.0', '::', '100.64.0.1', 'fc00::1', 'fd12:3456:789a::1', '224.0.0.1',
    '255.255.255.255', 'ff02::1', '192.0.2.1', '198.51.100.7', '203.0.113.9', '2001:db8::1', '2001:2::1',
    '::ffff:127.0.0.1', '::ffff:10.0.0.1', '::ffff:192.168.1.1', '::ffff:7f00:1', '::FFFF:169.254.0.1',
  ])('%s → null', (address) => {
    expect(lookup.country(address)).toBeNull();
  });

  it('answers null for private blocks the shipped data places in a country', () => {
    // The data has 172.16.0.0/12 and 192.168.0.0/16 in AU and 2001:db8::/32 in JP: the check comes first.
    expect(ipv4.countries[ipv4.starts.indexOf(ipv4Value('192.168.0.0'))]).toBe('AU');
    expect(lookup.country('192.168.0.0')).toBeNull();
    expect(ipv6.countries[ipv6.starts.indexOf(ipv6Value('2001:db8::'))]).toBe('JP');
    expect(lookup.country('2001:db8::')).toBeNull();
  });

  it.each([
    undefined, '', ' ', 'localhost', 'not an address', '8.8.8', '8.8.8.8.8', '256.1.1.1', '08.8.8.8', ' 8.8.8.8', '8.8.8.8 ',
    '8.8.8.8:443', '[2001:4860:4860::8888]', '2001:4860:4860::8888:', '1::2::3', 'gggg::1', '12345::1', '::ffff:8.8.8',
    '::ffff:8.8.8.256', '2001:4860:4860:0:0:0:0:0:8888', '0x8.8.8.8', '8.8.8.8/32', 'x'.repeat(10_000),
  ])('malformed %j → null', (address) => {
    expect(lookup.country(address)).toBeNull();
  });
});

describe('country lookup: public addresses', () => {
  it.each([
    ['8.8.8.8', 'US'], // Google DNS, inside 6.0.0.0–8.10.5.255 US
    ['9.9.9.9', 'US'],
    // 1.1.1.0/24 is APNIC's research prefix, announced by Cloudflare; registered in AU, and the data says AU.
    ['1.1.1.1', 'AU'],
    ['80.128.0.1', 'DE'], // Deutsche Telekom 80.128.0.0/11
    ['217.224.1.1', 'DE'], // Deutsche Telekom 217.224.0.0/11
    ['133.11.0.1', 'JP'], // University of Tokyo, 133.0.0.0/8
    ['202.12.27.33', 'JP'], // M root server (WIDE)
    ['193.0.14.129', 'NL'], // K root server (RIPE NCC)
    ['2001:4860:4860::8888', 'US'], // Google DNS
    ['2001:4860:4860:0000:0000:0000:0000:8844', 'US'],
    ['2a00:1450:4001:800::200e', 'IE'], // Google Europe: the data says IE
    ['2003:e1:1f00::1', 'DE'], // Deutsche Telekom 2003::/19
    ['2a01:4f8::1', 'DE'], // Hetzner
    ['2400:4050::1', 'JP'], // NTT
    ['2001:240::1', 'JP'],
    ['2606:4700:4700::1111', 'US'], // Cloudflare DNS
    ['2001:4860:4860::8888'.toUpperCase(), 'US'],
    ['::ffff:8.8.8.8', 'US'], // IPv4-mapped, as a dual-stack socket reports an IPv4 peer
    ['::ffff:0808:0808', 'US'],
    ['::ffff:133.11.0.1', 'JP'],
  ])('%s → %s', (address, country) => {
    expect(lookup.country(address)).toBe(country);
    const plain = address.replace(/^::ffff:(?=\d+\.)/i, '');
    if (!plain.includes(':')) expect(expectedIpv4(plain)).toBe(country);
    else if (!/^::ffff:/i.test(plain)) expect(expectedIpv6(plain.toLowerCase())).toBe(country);
  });

  it('follows the data where it is wrong rather than second-guessing it', () => {
    // 2001:200::/23 is WIDE's (JP), but this release of the data has 2001:200::–2001:218:2000:51:ffff:… as AU.
    expect(lookup.country('2001:200::1')).toBe('AU');
    expect(expectedIpv6('2001:200::1')).toBe('AU');
  });

  it('answers null where no row covers the address', () => {
    expect(expectedIpv6('2001:20::')).toBeNull();
    expect(lookup.country('2001:20::')).toBeNull();
    expect(lookup.country('2c0f:e9a0:1003::')).toBeNull();
    expect(lookup.country('4000::1')).toBeNull();
  });
});

describe('country lookup: range boundaries', () => {
  it.each([
    // The first rows of the IPv4 file: 1.0.0.0–1.0.0.255 AU, then 1.0.1.0–1.0.3.255 CN.
    ['1.0.0.0', 'AU'], ['1.0.0.255', 'AU'], ['1.0.1.0', 'CN'], ['1.0.3.255', 'CN'], ['1.0.4.0', 'AU'],
    // The last row: 223.255.255.0–223.255.255.255 AU; multicast follows.
    ['223.255.255.0', 'AU'], ['223.255.255.255', 'AU'], ['224.0.0.0', null],
    // Nested rows: 3.2.35.0–63 DE holds 40–47 TR, 48–55 GR and 56–63 DE; 64 starts a BR row.
    ['3.2.35.39', 'DE'], ['3.2.35.40', 'TR'], ['3.2.35.47', 'TR'], ['3.2.35.48', 'GR'], ['3.2.35.55', 'GR'],
    ['3.2.35.56', 'DE'], ['3.2.35.63', 'DE'], ['3.2.35.64', 'BR'],
    // A one-address row inside a block: 2.58.197.15 BE within 2.58.196.0–2.58.197.255 DE.
    ['2.58.197.14', 'DE'], ['2.58.197.15', 'BE'], ['2.58.197.16', 'DE'],
    // Rows overlapping in part: 17.67.224.0–17.67.239.255 ES, then 17.67.233.0–17.67.247.255 US wins from its start.
    ['17.67.233.0', 'US'], ['17.67.239.255', 'US'], ['17.67.240.0', 'US'], ['17.67.247.255', 'US'],
    // Two rows with the same range: the later (US) wins over DE.
    ['108.165.88.0', 'US'], ['108.165.90.255', 'US'],
  ] satisfies [string, string | null][])('%s → %s', (address, country) => {
    expect(lookup.country(address)).toBe(country);
    expect(expectedIpv4(address)).toBe(country);
  });

  it.each([
    // Boundaries in the low 64 bits: a /64 split between countries.
    ['2001:218:2000:51:ffff:ffff:ffff:ffff', 'AU'], ['2001:218:2000:52::', 'JP'],
    ['2405:2000:2502:10::', 'JP'], ['2405:2000:2502:10::1', 'JP'], ['2405:2000:2502:10::2', 'IN'],
    ['2405:2000:2502:10::ffff', 'IN'], ['2405:2000:2502:10:ffff:ffff:ffff:ffff', 'IN'],
    // The first non-reserved row of the IPv6 file, and the last row (then nothing).
    ['2001:10::', 'JP'], ['2001:1f:ffff:ffff:ffff:ffff:ffff:ffff', 'JP'],
    ['2c0f:e9a0:1002:ffff:ffff:ffff:ffff:ffff', 'ZA'], ['2c0f:e9a0:1003::', null],
  ] satisfies [string, string | null][])('%s → %s', (address, country) => {
    expect(lookup.country(address)).toBe(country);
    expect(expectedIpv6(address)).toBe(country);
  });
});

describe('country lookup against a full scan of the CSV', () => {
  it('agrees on random IPv4 addresses, and on the first and last address of random rows', () => {
    const next = random(4);
    const values: number[] = [];
    for (let i = 0; i < 150; i++) values.push(Math.floor(next() * 2 ** 32));
    for (let i = 0; i < 100; i++) {
      const row = Math.floor(next() * ipv4.starts.length);
      const start = ipv4.starts[row] as number;
      const end = ipv4.ends[row] as number;
      values.push(start, end, start + Math.floor(next() * (end - start + 1)));
      if (start > 0) values.push(start - 1);
      if (end < 0xffffffff) values.push(end + 1);
    }
    const mismatches: string[] = [];
    for (const value of values) {
      const address = dotted(value);
      const want = expectedIpv4(address);
      if (lookup.country(address) !== want || lookup.country(`::ffff:${address}`) !== want) mismatches.push(`${address} should be ${want}`);
    }
    expect(values.length).toBeGreaterThan(600);
    expect(mismatches).toEqual([]);
  });

  it('agrees on random IPv6 addresses, and on the first and last address of random rows', () => {
    const next = random(6);
    const values: bigint[] = [];
    // Uniform over 2000::/3, where all of the data lies (most of it is unallocated: null).
    for (let i = 0; i < 40; i++) values.push((1n << 125n) + randomBelow(next, 1n << 125n));
    for (let i = 0; i < 60; i++) {
      const row = Math.floor(next() * ipv6.starts.length);
      const start = ipv6.starts[row] as bigint;
      const end = ipv6.ends[row] as bigint;
      values.push(start, end, start + randomBelow(next, end - start + 1n), start - 1n, end + 1n);
    }
    const mismatches: string[] = [];
    values.forEach((value, i) => {
      const address = colonHex(value, i % 2 === 0);
      const want = expectedIpv6(colonHex(value, false));
      if (lookup.country(address) !== want) mismatches.push(`${address} should be ${want}`);
    });
    expect(mismatches).toEqual([]);
  });

  it('agrees on the edges of every nested or overlapping IPv4 row', () => {
    // Rows that start inside an earlier one are where a flattening goes wrong: check the first 150.
    const mismatches: string[] = [];
    let furthest = -1;
    let checked = 0;
    for (let row = 0; row < ipv4.starts.length && checked < 150; row++) {
      const start = ipv4.starts[row] as number;
      const end = ipv4.ends[row] as number;
      if (start <= furthest) {
        checked++;
        for (const value of [start - 1, start, end, end + 1]) {
          const address = dotted(value);
          const want = expectedIpv4(address);
          if (lookup.country(address) !== want) mismatches.push(`${address} should be ${want}`);
        }
      }
      if (end > furthest) furthest = end;
    }
    expect(checked).toBe(150);
    expect(mismatches).toEqual([]);
  });
});

describe('country database loading', () => {
  let directory: string;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'marktag-geo-'));
  });

  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  async function fixture(ipv4Lines: string, ipv6Lines: string): Promise<string> {
    const folder = await mkdtemp(join(directory, 'data-'));
    await writeFile(join(folder, 'geo-whois-asn-country-ipv4-num.csv'), ipv4Lines);
    await writeFile(join(folder, 'geo-whois-asn-country-ipv6-num.csv'), ipv6Lines);
    return folder;
  }

  const v4 = (text: string): string => String(ipv4Value(text));
  const v6 = (text: string): string => ipv6Value(text).toString();

  it('reads placeholders, gaps, nesting, CRLF and the top of the address space', async () => {
    const fixtureLookup = await loadCountryDatabase({
      directory: await fixture(
        [
          `${v4('1.0.0.0')},${v4('1.0.0.255')},AU`,
          `${v4('1.0.1.0')},${v4('1.0.1.255')},ZZ`,
          `${v4('1.0.2.0')},${v4('1.0.2.255')},`,
          `${v4('1.0.4.0')},${v4('1.0.7.255')},fr`,
          `${v4('1.0.5.0')},${v4('1.0.5.255')},DE\r`,
          `${v4('1.0.5.128')},${v4('1.0.5.128')},EU`,
          `${v4('5.0.0.0')},${v4('5.0.0.255')},XK`,
          `${v4('255.255.255.0')},${v4('255.255.255.255')},US`,
          '',
        ].join('\n'),
        [`${v6('2001:200::')},${v6('2001:200:ffff:ffff:ffff:ffff:ffff:ffff')},JP`, `${v6('2001:200:1::')},${v6('2001:200:1::ff')},XX`, `${v6('fff0::')},${v6('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')},JP`].join(
          '\n',
        ),
      ),
    });
    expect(fixtureLookup.country('1.0.0.0')).toBe('AU');
    expect(fixtureLookup.country('1.0.0.255')).toBe('AU');
    expect(fixtureLookup.country('1.0.1.1')).toBeNull(); // ZZ
    expect(fixtureLookup.country('1.0.2.1')).toBeNull(); // empty
    expect(fixtureLookup.country('1.0.3.1')).toBeNull(); // no row
    expect(fixtureLookup.country('1.0.4.0')).toBe('FR');
    expect(fixtureLookup.country('1.0.5.0')).toBe('DE');
    expect(fixtureLookup.country('1.0.5.127')).toBe('DE');
    expect(fixtureLookup.country('1.0.5.128')).toBeNull(); // EU is a region, not a country
    expect(fixtureLookup.country('1.0.5.129')).toBe('DE');
    expect(fixtureLookup.country('1.0.6.0')).toBe('FR');
    expect(fixtureLookup.country('1.0.7.255')).toBe('FR');
    expect(fixtureLookup.country('1.0.8.0')).toBeNull();
    expect(fixtureLookup.country('5.0.0.1')).toBe('XK');
    expect(fixtureLookup.country('255.255.255.255')).toBeNull(); // broadcast, whatever the row says
    expect(fixtureLookup.country('2001:200::1')).toBe('JP');
    expect(fixtureLookup.country('2001:200:1::7f')).toBeNull(); // XX
    expect(fixtureLookup.country('2001:200:1::100')).toBe('JP');
    expect(fixtureLookup.country('2001:201::')).toBeNull();
  });

  it('rejects a malformed file, naming the line', async () => {
    await expect(loadCountryDatabase({ directory: await fixture(`${v4('1.0.0.0')},${v4('1.0.0.255')},AU\n123,abc,US\n`, '') })).rejects.toThrow(/line 2/);
    await expect(loadCountryDatabase({ directory: await fixture(`16777216,16777471\n`, '') })).rejects.toThrow(/line 1/);
    await expect(loadCountryDatabase({ directory: await fixture(`1,4294967296,US\n`, '') })).rejects.toThrow(/line 1/);
    await expect(loadCountryDatabase({ directory: await fixture('', `1,${(1n << 128n).toString()},US\n`) })).rejects.toThrow(/line 1/);
    await expect(loadCountryDatabase({ directory: await fixture(`20,30,US\n10,40,FR\n`, '') })).rejects.toThrow(/not sorted/);
    await expect(loadCountryDatabase({ directory: join(directory, 'missing') })).rejects.toThrow(/ENOENT/);
  });

  it('builds the packaged tables once a process', async () => {
    expect(await loadCountryDatabase()).toBe(lookup);
  });
});
