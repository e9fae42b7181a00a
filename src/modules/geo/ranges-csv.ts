import { Keys } from './keys.js';

/** Data rows: inclusive ranges in file order, and a country index each (0: none). */
export interface Rows {
  starts: Keys;
  ends: Keys;
  countries: Uint16Array;
}

const NEWLINE = 0x0a;
const RETURN = 0x0d;
const COMMA = 0x2c;

function fail(line: number, why: string): never {
  throw new Error(`Country data line ${line}: ${why}`);
}

/** Lines in the file, an upper bound on its rows, so the row arrays are sized once. */
function countLines(bytes: Uint8Array): number {
  let lines = 1;
  for (let at = bytes.indexOf(NEWLINE); at !== -1; at = bytes.indexOf(NEWLINE, at + 1)) lines++;
  return lines;
}

/**
 * An ip-location-db "-num" CSV: `start,end,country` per line, addresses as decimal integers (cheaper to
 * parse than dotted or colon-hex text) of `width` 32-bit words. One pass over the bytes, which stay a
 * Buffer outside the JavaScript heap, so its megabytes go back as soon as the table is built; a country
 * code becomes a string only the first time it is seen. Throws on any malformed line: a corrupt file
 * must not load as a silently wrong table.
 */
export function readRows(bytes: Buffer, width: number, countryIndex: (code: string) => number): Rows {
  const capacity = countLines(bytes);
  const starts = new Keys(width, capacity);
  const ends = new Keys(width, capacity);
  const countries = new Uint16Array(capacity);
  const twoLetterIndexes = new Int32Array(0x10000).fill(-1);
  const country = (from: number, to: number): number => {
    if (to - from !== 2) return countryIndex(bytes.toString('latin1', from, to));
    const key = ((bytes[from] as number) << 8) | (bytes[from + 1] as number);
    const known = twoLetterIndexes[key] as number;
    if (known >= 0) return known;
    return (twoLetterIndexes[key] = countryIndex(bytes.toString('latin1', from, to)));
  };
  let count = 0;
  let line = 0;
  for (let at = 0; at < bytes.length; ) {
    line++;
    if (bytes[at] === NEWLINE || (bytes[at] === RETURN && bytes[at + 1] === NEWLINE)) {
      at = bytes.indexOf(NEWLINE, at) + 1;
      continue;
    }
    const afterStart = starts.appendDecimal(bytes, at);
    if (afterStart === -1 || bytes[afterStart] !== COMMA) fail(line, 'the start is not a decimal address');
    const afterEnd = ends.appendDecimal(bytes, afterStart + 1);
    if (afterEnd === -1 || bytes[afterEnd] !== COMMA) fail(line, 'the end is not a decimal address');
    const codeFrom = afterEnd + 1;
    let codeTo = codeFrom;
    for (; codeTo < bytes.length && bytes[codeTo] !== NEWLINE; codeTo++) {
      if (bytes[codeTo] === COMMA) fail(line, 'expected start,end,country');
    }
    at = codeTo + 1;
    if (codeTo > codeFrom && bytes[codeTo - 1] === RETURN) codeTo--;
    countries[count++] = country(codeFrom, codeTo);
  }
  return { starts, ends, countries: countries.subarray(0, count) };
}
