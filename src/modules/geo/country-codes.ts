/**
 * Codes that look like ISO 3166-1 alpha-2 but name no country: the user-assigned ranges (AA, QM–QZ, XA–XZ,
 * ZZ), which IP data uses as "unknown", and the regional codes registries hand out (EU, AP). XK is
 * user-assigned too, but it is the code everyone (the EU, CLDR, the RIRs' data) uses for Kosovo.
 */
function isPlaceholder(code: string): boolean {
  if (code === 'XK') return false;
  if (code === 'AA' || code === 'ZZ' || code === 'EU' || code === 'AP') return true;
  const first = code[0];
  const second = code.charCodeAt(1);
  return (first === 'Q' && second >= 0x4d /* M */) || first === 'X';
}

/** The country a data row names, or null where it names none (empty, malformed or a placeholder). */
export function countryCode(raw: string): string | null {
  const code = raw.trim().toUpperCase();
  if (!/^[A-Z]{2}$/.test(code) || isPlaceholder(code)) return null;
  return code;
}

/**
 * Countries as small integers, so a range table holds a Uint16 per range instead of a string; 0 is "no
 * country". The same instance serves both address families.
 */
export class CountryCodes {
  private readonly codes: (string | null)[] = [null];
  private readonly indexes = new Map<string, number>();

  /** The index of a raw data code, interned on first sight. */
  index(raw: string): number {
    const known = this.indexes.get(raw);
    if (known !== undefined) return known;
    const code = countryCode(raw);
    const existing = code === null ? 0 : this.codes.indexOf(code);
    const index = existing >= 0 ? existing : this.codes.push(code) - 1;
    if (index > 0xffff) throw new Error('More distinct country codes than a Uint16 index holds');
    this.indexes.set(raw, index);
    return index;
  }

  code(index: number): string | null {
    return this.codes[index] ?? null;
  }
}
