import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseAddress } from './address.js';
import { CountryCodes } from './country-codes.js';
import { isNonPublicIpv4, isNonPublicIpv6 } from './non-public.js';
import { Ipv4Table, Ipv6Table } from './range-table.js';
import { readRows } from './ranges-csv.js';
import { partition } from './sweep.js';
import { IPV4_FILE, IPV6_FILE } from './data-files.js';

export interface CountryLookup {
  /**
   * ISO 3166-1 alpha-2 country of a client address, or null: non-public, malformed or missing addresses,
   * and addresses the data does not place. Synchronous and allocation-light: one binary search (about
   * 19 steps) over typed arrays.
   */
  country(address: string | undefined): string | null;
}

/** What the data's licence asks to be shown to whoever receives it (the README of the package). */
export const COUNTRY_DATA_ATTRIBUTION =
  'IP-to-country data: ip-location-db geo-whois-asn-country (CC0-1.0), built from RIR WHOIS and ASN data by the NRO (nro.net), CC BY 4.0';

const PACKAGE = '@ip-location-db/geo-whois-asn-country';

/** Where npm put the data: resolved like any dependency, so nothing is fetched at run time. */
function packagedDirectory(): string {
  return dirname(createRequire(import.meta.url).resolve(`${PACKAGE}/package.json`));
}

export interface LoadOptions {
  /** A folder holding the two "-num" CSV files under the package's names; the installed package by default. */
  directory?: string;
}

/**
 * Reads and indexes both files, once at start-up. The reads are asynchronous, so the CPU work comes in
 * two pieces (IPv4, then IPv6; each well under 200 ms) with the event loop free between them; after that
 * a lookup never touches the disk. Loading lazily instead would stall whichever request came first.
 */
async function load(directory: string): Promise<CountryLookup> {
  const codes = new CountryCodes();
  const countryIndex = (code: string): number => codes.index(code);
  // One file after the other: the first one's bytes and rows are garbage before the second is read.
  const ipv4 = new Ipv4Table(partition(readRows(await readFile(join(directory, IPV4_FILE)), 1, countryIndex)));
  const ipv6 = new Ipv6Table(partition(readRows(await readFile(join(directory, IPV6_FILE)), 4, countryIndex)));
  return {
    country(address) {
      if (!address) return null;
      const parsed = parseAddress(address);
      if (parsed === null) return null;
      if (parsed.family === 4) return isNonPublicIpv4(parsed.value) ? null : codes.code(ipv4.country(parsed.value));
      return isNonPublicIpv6(parsed.words) ? null : codes.code(ipv6.country(parsed.words));
    },
  };
}

let packaged: Promise<CountryLookup> | undefined;

/**
 * The country lookup. The installed package's tables are built once a process (they are immutable), and
 * a failed load is forgotten so a later call can try again.
 */
export function loadCountryDatabase(options: LoadOptions = {}): Promise<CountryLookup> {
  if (options.directory !== undefined) return load(options.directory);
  packaged ??= load(packagedDirectory()).catch((error: unknown) => {
    packaged = undefined;
    throw error;
  });
  return packaged;
}
