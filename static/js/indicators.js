// Moving averages of candle closes, exact: big.js, each division and each EMA step rounded to
// STEP_DP decimals (half-up), so a value is reproducible digit for digit (tests/e2e/test_desk_market.py
// recomputes them with Python's Decimal). The chart library then draws them as numbers: display only.
import { Big } from "./num.js";

export const STEP_DP = 20;
const HALF_UP = 1;

function big(value) {
  return value instanceof Big ? value : new Big(value);
}

/** Simple moving average: null until `period` closes exist, then the mean of the last `period`. */
export function sma(closes, period) {
  const out = new Array(closes.length).fill(null);
  let sum = new Big(0);
  for (let i = 0; i < closes.length; i++) {
    sum = sum.plus(big(closes[i]));
    if (i >= period) sum = sum.minus(big(closes[i - period]));
    if (i >= period - 1) out[i] = sum.div(period).round(STEP_DP, HALF_UP);
  }
  return out;
}

/** One EMA step: prev + 2 / (period + 1) × (close − prev). */
export function emaStep(prev, close, period) {
  const alpha = new Big(2).div(period + 1).round(STEP_DP, HALF_UP);
  return prev.plus(alpha.times(big(close).minus(prev))).round(STEP_DP, HALF_UP);
}

/** Exponential moving average, seeded with the SMA of the first `period` closes. */
export function ema(closes, period) {
  const out = new Array(closes.length).fill(null);
  if (closes.length < period) return out;
  out[period - 1] = sma(closes.slice(0, period), period)[period - 1];
  for (let i = period; i < closes.length; i++) out[i] = emaStep(out[i - 1], closes[i], period);
  return out;
}

export const INDICATORS = { MA: sma, EMA: ema };

/** The value at index `i` from the closes and the values before it: a live candle redoes only its own. */
export function valueAt(kind, closes, values, i, period) {
  if (i < period - 1) return null;
  if (kind === "MA" || i === period - 1) return sma(closes.slice(i - period + 1, i + 1), period)[period - 1];
  return emaStep(values[i - 1], closes[i], period);
}
