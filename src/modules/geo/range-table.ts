import type { Ipv6Words } from './address.js';
import type { Partition } from './sweep.js';

/**
 * The IPv4 partition as typed arrays: 4 bytes of start and 2 of country per range (2 MB for the
 * shipped data). A range runs from its start to the next one's, and the first starts at 0.0.0.0.
 */
export class Ipv4Table {
  private readonly starts: Uint32Array;
  private readonly countries: Uint16Array;

  constructor(partition: Partition) {
    if (partition.starts.width !== 1) throw new Error('An IPv4 table takes 32-bit keys');
    this.starts = partition.starts.packed();
    this.countries = partition.countries;
  }

  /** The country index of the range holding `value`: the last start at or below it. */
  country(value: number): number {
    const starts = this.starts;
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if ((starts[middle] as number) <= value) low = middle;
      else high = middle - 1;
    }
    return this.countries[low] as number;
  }
}

/** The IPv6 partition: four 32-bit words of start per range, interleaved, and a country each. */
export class Ipv6Table {
  private readonly starts: Uint32Array;
  private readonly countries: Uint16Array;

  constructor(partition: Partition) {
    if (partition.starts.width !== 4) throw new Error('An IPv6 table takes 128-bit keys');
    this.starts = partition.starts.packed();
    this.countries = partition.countries;
  }

  /** Whether the start of range `i` is at or below `words`, word by word from the top. */
  private startsAtOrBelow(i: number, words: Ipv6Words): boolean {
    const at = 4 * i;
    for (let w = 0; w < 4; w++) {
      const start = this.starts[at + w] as number;
      const word = words[w] as number;
      if (start !== word) return start < word;
    }
    return true;
  }

  country(words: Ipv6Words): number {
    let low = 0;
    let high = this.countries.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >>> 1;
      if (this.startsAtOrBelow(middle, words)) low = middle;
      else high = middle - 1;
    }
    return this.countries[low] as number;
  }
}
