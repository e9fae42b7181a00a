/**
 * Rounds `amounts` to `decimals` places so that the rounded amounts add up exactly to their sum
 * rounded the same way (the largest-remainder method): a report whose rows must sum to its total
 * cannot round each row on its own (three thirds rounded to 4 places sum to 0.9999, not 1).
 * Each amount moves by less than one unit of the last place; ties go to the earlier amount.
 */
export function apportion(amounts: readonly number[], decimals: number): number[] {
  const scale = 10 ** decimals;
  const scaled = amounts.map((amount) => amount * scale);
  // A sum such as 2999.9999999996 (float error of exact thirds) is 3000 units.
  const target = Math.round(scaled.reduce((sum, value) => sum + value, 0) + 1e-7);
  const units = scaled.map((value) => Math.floor(value + 1e-9));
  let missing = target - units.reduce((sum, value) => sum + value, 0);
  const byRemainder = scaled.map((value, index) => ({ index, remainder: value - (units[index] ?? 0) })).sort((a, b) => b.remainder - a.remainder || a.index - b.index);
  for (const { index } of byRemainder) {
    if (missing <= 0) break;
    units[index] = (units[index] ?? 0) + 1;
    missing--;
  }
  // Amounts a hair under a unit were floored up: the smallest remainders give it back.
  for (const { index } of byRemainder.reverse()) {
    if (missing >= 0) break;
    units[index] = (units[index] ?? 0) - 1;
    missing++;
  }
  return units.map((value) => value / scale);
}

/** `value` rounded half away from zero to `decimals` places. */
export function roundTo(value: number, decimals: number): number {
  const scale = 10 ** decimals;
  return (Math.sign(value) * Math.round(Math.abs(value) * scale + 1e-7)) / scale;
}
