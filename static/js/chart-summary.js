// The candlestick chart's text alternative: a visually hidden sentence with the symbol, the interval and
// the last closed candle's open, high, low and close, announced politely when a candle closes (not on
// every tick, which would drown a screen reader).
import { fmt } from "./num.js";

export class ChartSummary {
  constructor(element, symbol, decimals) {
    Object.assign(this, { element, symbol, decimals });
    this.interval = "";
    this.current = null;  // the candle still forming
  }

  /** A fresh history: the last candle is still forming, so the one before it is the last closed one. */
  setCandles(interval, candles) {
    this.interval = interval;
    this.current = candles.at(-1) ?? null;
    this.say(candles.at(-2) ?? null);
  }

  /** A live candle: when a newer one starts, the previous one has closed. */
  update(candle) {
    if (this.current && candle.t > this.current.t) this.say(this.current);
    this.current = candle;
  }

  say(closed) {
    const p = (v) => fmt(v, this.decimals);
    this.element.textContent = closed
      ? `${this.symbol} ${this.interval} candles. Last closed candle: open ${p(closed.o)}, high ${p(closed.h)}, low ${p(closed.l)}, close ${p(closed.c)}.`
      : `${this.symbol} ${this.interval} candles: no closed candle yet.`;
  }
}
