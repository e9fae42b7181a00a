/** A sum of conversion values in one currency, as every insights report gives it. */
export interface CurrencyValue {
  currency: string;
  value: number;
}

/** Rows' dimension values in ascending order, the unknown value (null) last. */
export const byDimensionValue = (a: string | null, b: string | null): number => (a === b ? 0 : a === null ? 1 : b === null ? -1 : a < b ? -1 : 1);
