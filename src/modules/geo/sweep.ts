import { Keys } from './keys.js';
import type { Rows } from './ranges-csv.js';

/** The whole address space cut into ranges, each from its start to the next one's: a lookup needs no ends. */
export interface Partition {
  starts: Keys;
  countries: Uint16Array;
}

/** Appends range starts, dropping empty ranges and merging neighbours of one country. */
class PartitionWriter {
  readonly starts: Keys;
  readonly countries: Uint16Array;
  length = 0;

  constructor(width: number, capacity: number) {
    this.starts = new Keys(width, capacity);
    this.countries = new Uint16Array(capacity);
  }

  /**
   * Gives the key just appended to `starts` its country, or takes the key back. Positions only ever
   * grow, so only the last range can turn out empty (the next one starts where it did).
   */
  private place(country: number): void {
    const last = this.length - 1;
    if (last >= 0 && this.starts.compare(last, this.starts, last + 1) === 0) {
      // A range that ends where it began: the newer country takes the position over.
      this.countries[last] = country;
      if (last >= 1 && this.countries[last - 1] === country) this.length--;
    } else if (last < 0 || this.countries[last] !== country) {
      this.countries[this.length++] = country;
    }
    this.starts.truncate(this.length);
  }

  openAtZero(country: number): void {
    this.starts.appendZero();
    this.place(country);
  }

  openAtStart(rows: Rows, row: number): void {
    this.starts.appendCopy(rows.starts, row, false);
    this.place(rows.countries[row] as number);
  }

  openAfterEnd(rows: Rows, row: number, country: number): void {
    this.starts.appendCopy(rows.ends, row, true);
    this.place(country);
  }
}

/**
 * Overlapping rows flattened, the later row winning wherever two overlap. The shipped data nests
 * ranges (a block, then more specific blocks inside it; a few even share a start or overlap partly):
 * its merge of several sources leaves outer rows untrimmed, and "the last row that contains the
 * address" is the reading under which every inner row means something. One pass with a stack of the
 * rows still open; the top one is the winner.
 */
export function partition(rows: Rows): Partition {
  const count = rows.countries.length;
  const out = new PartitionWriter(rows.starts.width, 2 * count + 1);
  const stack = new Int32Array(count);
  let depth = 0;
  // Closes the top row, and under it every row that ends no later (hidden until then, dead after).
  const closeTop = (): void => {
    const closed = stack[--depth] as number;
    while (depth > 0 && rows.ends.compare(stack[depth - 1] as number, rows.ends, closed) <= 0) depth--;
    if (rows.ends.isMax(closed)) return;
    out.openAfterEnd(rows, closed, depth > 0 ? (rows.countries[stack[depth - 1] as number] as number) : 0);
  };
  out.openAtZero(0);
  for (let row = 0; row < count; row++) {
    if (row > 0 && rows.starts.compare(row, rows.starts, row - 1) < 0) throw new Error(`Country data row ${row + 1}: rows not sorted by start`);
    if (rows.starts.compare(row, rows.ends, row) > 0) throw new Error(`Country data row ${row + 1}: range ends before it starts`);
    while (depth > 0 && rows.ends.compare(stack[depth - 1] as number, rows.starts, row) < 0) closeTop();
    stack[depth++] = row;
    out.openAtStart(rows, row);
  }
  while (depth > 0) {
    if (rows.ends.isMax(stack[depth - 1] as number)) break;
    closeTop();
  }
  return { starts: out.starts, countries: out.countries.slice(0, out.length) };
}
