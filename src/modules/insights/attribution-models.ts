import { apportion, roundTo } from '../../lib/apportion.js';
import { byDimensionValue, type CurrencyValue } from './report-values.js';

/** The credit models of contracts/insights.md ("Attribution"). */
export const ATTRIBUTION_MODELS = ['last_non_direct', 'last_touch', 'first_touch', 'linear', 'time_decay'] as const;
export type AttributionModel = (typeof ATTRIBUTION_MODELS)[number];

const DAY_MS = 86_400_000;

/** A session that may have brought a conversion. */
export interface Touchpoint {
  /** When the session started, ms since the epoch. */
  startedAt: number;
  /** The session's value of the dimension credited (its channel, source, medium or campaign). */
  key: string | null;
  /** The session's channel, which `last_non_direct` reads whatever the dimension. */
  channel: string;
}

/** A conversion event and the sessions of its visitor, and of every visitor linked to its user. */
export interface Conversion {
  /** ms since the epoch */
  at: number;
  value: number | null;
  currency: string | null;
  /** In any order; those that started after the conversion or before the look-back are not touchpoints. */
  sessions: readonly Touchpoint[];
}

export interface ModelOptions {
  model: AttributionModel;
  /** Sessions that started at most this long before the conversion are its touchpoints (1–90). */
  lookbackDays: number;
  /** `time_decay`: a touchpoint this much older weighs half as much. */
  halfLifeDays: number;
  /** What a conversion without touchpoints is credited to: Direct's value of the dimension. */
  directKey: string | null;
}

export interface AttributionRow {
  value: string | null;
  /** Fractional credit, 4 decimals. */
  conversions: number;
  conversionValue: CurrencyValue[];
}

export interface AttributionReport {
  rows: AttributionRow[];
  totals: { conversions: number; conversionValue: CurrencyValue[] };
}

/** The touchpoints of a conversion, earliest first (ties keep their order). */
export function touchpointsOf(conversion: Conversion, lookbackDays: number): Touchpoint[] {
  const earliest = conversion.at - lookbackDays * DAY_MS;
  return conversion.sessions
    .map((session, index) => ({ session, index }))
    .filter(({ session }) => session.startedAt >= earliest && session.startedAt <= conversion.at)
    .sort((a, b) => a.session.startedAt - b.session.startedAt || a.index - b.index)
    .map(({ session }) => session);
}

/**
 * One conversion's credit by dimension value under a model: shares that add up to 1. A conversion
 * without a touchpoint gives all of it to `directKey`.
 */
export function creditOf(conversion: Conversion, options: ModelOptions): Map<string | null, number> {
  const touchpoints = touchpointsOf(conversion, options.lookbackDays);
  const credit = new Map<string | null, number>();
  const give = (key: string | null, share: number) => credit.set(key, (credit.get(key) ?? 0) + share);
  const last = touchpoints.at(-1);
  if (!last) {
    give(options.directKey, 1);
    return credit;
  }
  switch (options.model) {
    case 'last_touch':
      give(last.key, 1);
      break;
    case 'last_non_direct':
      // All to the latest touchpoint that is not Direct; when every one is Direct, to the latest.
      give((touchpoints.findLast((touchpoint) => touchpoint.channel !== 'Direct') ?? last).key, 1);
      break;
    case 'first_touch':
      give(touchpoints[0]?.key ?? last.key, 1);
      break;
    case 'linear':
      for (const touchpoint of touchpoints) give(touchpoint.key, 1 / touchpoints.length);
      break;
    case 'time_decay': {
      const weights = touchpoints.map((touchpoint) => 2 ** (-(conversion.at - touchpoint.startedAt) / (options.halfLifeDays * DAY_MS)));
      const total = weights.reduce((sum, weight) => sum + weight, 0);
      touchpoints.forEach((touchpoint, index) => give(touchpoint.key, (weights[index] ?? 0) / total));
      break;
    }
  }
  return credit;
}

/**
 * The attribution report of a set of conversions: credit and value by dimension value, rows by
 * credit (descending, then value). Rounded so that the rows add up exactly to the totals: credit to
 * 4 decimals summing to the number of conversions, each currency's value to 2 decimals summing to
 * its total.
 */
export function attributeConversions(conversions: readonly Conversion[], options: ModelOptions): AttributionReport {
  const credit = new Map<string | null, number>();
  const values = new Map<string | null, Map<string, number>>();
  for (const conversion of conversions) {
    const hasValue = conversion.value !== null && conversion.currency !== null;
    for (const [key, share] of creditOf(conversion, options)) {
      credit.set(key, (credit.get(key) ?? 0) + share);
      if (!hasValue) continue;
      const byCurrency = values.get(key) ?? new Map<string, number>();
      byCurrency.set(conversion.currency ?? '', (byCurrency.get(conversion.currency ?? '') ?? 0) + share * (conversion.value ?? 0));
      values.set(key, byCurrency);
    }
  }
  const keys = [...credit.keys()];
  const rounded = apportion(keys.map((key) => credit.get(key) ?? 0), 4);
  const currencies = [...new Set(conversions.flatMap((c) => (c.value !== null && c.currency !== null ? [c.currency] : [])))].sort();
  // Per currency, the rows' values apportioned to its total.
  const roundedValues = new Map(currencies.map((currency) => [currency, apportion(keys.map((key) => values.get(key)?.get(currency) ?? 0), 2)]));
  const rows = keys
    .map((key, index) => ({
      value: key,
      conversions: rounded[index] ?? 0,
      conversionValue: currencies
        .filter((currency) => values.get(key)?.has(currency))
        .map((currency) => ({ currency, value: roundedValues.get(currency)?.[index] ?? 0 })),
    }))
    .sort((a, b) => b.conversions - a.conversions || byDimensionValue(a.value, b.value));
  return {
    rows,
    totals: {
      conversions: conversions.length,
      // The rows' apportioned values add up to the currency's total rounded to cents, by construction.
      conversionValue: currencies.map((currency) => ({ currency, value: roundTo((roundedValues.get(currency) ?? []).reduce((sum, value) => sum + value, 0), 2) })),
    },
  };
}
