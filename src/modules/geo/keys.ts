/**
 * Unsigned integers of a fixed number of 32-bit words (1 for IPv4, 4 for IPv6), big-endian, packed
 * into one Uint32Array. IPv6 addresses stay out of BigInt this way: a version on BigInts and row objects
 * peaked at about 75 MB of heap, and left the process some 45 MB larger, for tables of under 7 MB.
 */
export class Keys {
  readonly width: number;
  words: Uint32Array;
  length = 0;
  /** Scratch for appendDecimal: 16-bit limbs, least significant first. */
  private readonly limbs: Float64Array;

  constructor(width: number, capacity: number) {
    this.width = width;
    this.words = new Uint32Array(width * Math.max(capacity, 1));
    this.limbs = new Float64Array(width * 2);
  }

  private grow(): void {
    if (this.length * this.width < this.words.length) return;
    const words = new Uint32Array(this.words.length * 2);
    words.set(this.words);
    this.words = words;
  }

  /** Negative, zero or positive as key `i` is below, equal to or above key `j` of `other` (same width). */
  compare(i: number, other: Keys, j: number): number {
    const a = i * this.width;
    const b = j * other.width;
    for (let w = 0; w < this.width; w++) {
      const x = this.words[a + w] as number;
      const y = other.words[b + w] as number;
      if (x !== y) return x < y ? -1 : 1;
    }
    return 0;
  }

  isMax(i: number): boolean {
    for (let w = i * this.width; w < (i + 1) * this.width; w++) if (this.words[w] !== 0xffffffff) return false;
    return true;
  }

  appendZero(): void {
    this.grow();
    this.words.fill(0, this.length * this.width, (this.length + 1) * this.width);
    this.length++;
  }

  /** Appends key `i` of `source`, plus one if asked; the caller rules out the maximum overflowing. */
  appendCopy(source: Keys, i: number, plusOne: boolean): void {
    this.grow();
    const to = this.length * this.width;
    for (let w = 0; w < this.width; w++) this.words[to + w] = source.words[i * source.width + w] as number;
    for (let w = to + this.width - 1; plusOne && w >= to; w--) {
      const word = ((this.words[w] as number) + 1) >>> 0;
      this.words[w] = word;
      plusOne = word === 0; // carry on only past a word that wrapped
    }
    this.length++;
  }

  /**
   * Appends the decimal integer that starts at bytes[from] and returns where its digits end, or -1 if
   * there are none or it does not fit. Digits go in nine at a time onto 16-bit limbs, where
   * limb × 10^9 + carry stays an exact double, touching only the limbs in use so far.
   */
  appendDecimal(bytes: Uint8Array, from: number): number {
    const limbs = this.limbs.fill(0);
    let used = 0;
    let at = from;
    for (let digits = 9; digits === 9; ) {
      let chunk = 0;
      let scale = 1;
      for (digits = 0; digits < 9 && at < bytes.length; digits++, at++) {
        const digit = (bytes[at] as number) - 0x30;
        if (digit < 0 || digit > 9) break;
        chunk = chunk * 10 + digit;
        scale *= 10;
      }
      let carry = chunk;
      let l = 0;
      for (; l < limbs.length && (l < used || carry !== 0); l++) {
        const value = (limbs[l] as number) * scale + carry;
        carry = Math.floor(value / 0x10000);
        limbs[l] = value - carry * 0x10000;
      }
      if (carry !== 0) return -1;
      used = l;
    }
    if (at === from) return -1;
    this.grow();
    const base = this.length * this.width;
    for (let w = 0; w < this.width; w++) {
      const low = 2 * (this.width - 1 - w);
      this.words[base + w] = (limbs[low + 1] as number) * 0x10000 + (limbs[low] as number);
    }
    this.length++;
    return at;
  }

  truncate(length: number): void {
    this.length = length;
  }

  /** The keys alone, in a buffer of their own size. */
  packed(): Uint32Array {
    return this.words.slice(0, this.length * this.width);
  }
}
