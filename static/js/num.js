// Exact decimal arithmetic for money in the browser (big.js); amounts arrive and leave as strings,
// never as floats. Display rounding is half-even, at the symbol's tick/step decimals.
import Big from "/static/vendor/big.mjs";

export { Big };
export const HALF_EVEN = 2;

/** A Big from an API string, or null for anything that is not a plain decimal. */
export function dec(value) {
  if (typeof value !== "string" || !/^-?\d+(\.\d+)?$/.test(value.trim())) return null;
  return new Big(value.trim());
}

/** Decimals of a step such as "0.01" (2) or "1" (0). */
export function decimalsOf(step) {
  const s = String(step);
  const i = s.indexOf(".");
  return i < 0 ? 0 : s.length - i - 1;
}

/** "12345.678" -> "12,345.68" at `dp` decimals (half-even); "—" for nothing. */
export function fmt(value, dp) {
  const b = value instanceof Big ? value : dec(value);
  if (b === null) return "—";
  const fixed = b.round(dp, HALF_EVEN).toFixed(dp);
  const [int, frac] = fixed.split(".");
  const sign = int.startsWith("-") ? "-" : "";
  const digits = sign ? int.slice(1) : int;
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return sign + grouped + (frac !== undefined ? "." + frac : "");
}

/** Amounts as stored: trailing zeros dropped, never an exponent. */
export function plain(value) {
  const b = value instanceof Big ? value : dec(value);
  if (b === null) return "";
  const s = b.toFixed();
  return s.includes(".") ? s.replace(/\.?0+$/, "") : s;
}
