const EMPTY = 0;
const MIN_SLOTS = 64;
/** Pre-sized up to this (1.3 MB); a table for more ids grows as they come. */
const MAX_INITIAL_SLOTS = 65_536;
// A slot's fields side by side, so that a probe reads one cache line: the list holding the id
// (its index + 1; EMPTY for a free slot), where the id starts and ends in it, its hash, its mark.
const FIELDS = 5;
const LIST = 0;
const START = 1;
const END = 2;
const HASH = 3;
const MARK = 4;

/**
 * Exact distinct counting of ids that arrive as space-separated lists (a summary's groups), without
 * a string per id: each id is hashed and compared where it lies in its list (open addressing,
 * linear probing). For 10,000 visitors and 10,000 sessions, splitting the lists into a Map and a
 * Set took 2.9 ms against 0.6, most of it allocating and collecting a string per id. Each id also carries a mark (the latest bucket it was
 * seen in), so one table counts both the distinct ids of each bucket and those of the whole range.
 */
export class DistinctIds {
  private readonly lists: string[] = [];
  private slots: number;
  private table: Int32Array;
  private count = 0;

  /** `expected`: about how many ids will be added, to size the table once rather than grow it. */
  constructor(expected = 0) {
    this.slots = Math.min(MAX_INITIAL_SLOTS, Math.max(MIN_SLOTS, 2 ** Math.ceil(Math.log2(expected * 2 + 1))));
    this.table = new Int32Array(this.slots * FIELDS);
  }

  /** Distinct ids seen so far. */
  get size(): number {
    return this.count;
  }

  /** Adds every id of a space-separated list under `mark`; answers how many did not carry that mark yet. */
  addAll(ids: string, mark: number): number {
    const listNumber = this.lists.push(ids);
    let marked = 0;
    let from = 0;
    while (from <= ids.length) {
      let to = ids.indexOf(' ', from);
      if (to === -1) to = ids.length;
      if (to > from && this.add(ids, listNumber, from, to, mark)) marked++;
      from = to + 1;
    }
    return marked;
  }

  private add(ids: string, listNumber: number, from: number, to: number, mark: number): boolean {
    // FNV-1a over the UTF-16 code units.
    let hash = 0x811c9dc5;
    for (let i = from; i < to; i++) hash = Math.imul(hash ^ ids.charCodeAt(i), 0x01000193);
    const table = this.table;
    const mask = this.slots - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const at = slot * FIELDS;
      if (table[at + LIST] === EMPTY) {
        table[at + LIST] = listNumber;
        table[at + START] = from;
        table[at + END] = to;
        table[at + HASH] = hash;
        table[at + MARK] = mark;
        if (++this.count * 2 > this.slots) this.grow();
        return true;
      }
      if (table[at + HASH] === hash && this.sameId(at, ids, from, to)) {
        if (table[at + MARK] === mark) return false;
        table[at + MARK] = mark;
        return true;
      }
    }
  }

  private sameId(at: number, ids: string, from: number, to: number): boolean {
    const start = this.table[at + START] as number;
    if ((this.table[at + END] as number) - start !== to - from) return false;
    const other = this.lists[(this.table[at + LIST] as number) - 1] as string;
    for (let i = 0; i < to - from; i++) if (other.charCodeAt(start + i) !== ids.charCodeAt(from + i)) return false;
    return true;
  }

  private grow(): void {
    const old = this.table;
    this.slots *= 2;
    this.table = new Int32Array(this.slots * FIELDS);
    const mask = this.slots - 1;
    for (let from = 0; from < old.length; from += FIELDS) {
      if (old[from + LIST] === EMPTY) continue;
      let slot = (old[from + HASH] as number) & mask;
      while (this.table[slot * FIELDS + LIST] !== EMPTY) slot = (slot + 1) & mask;
      for (let field = 0; field < FIELDS; field++) this.table[slot * FIELDS + field] = old[from + field] as number;
    }
  }
}
