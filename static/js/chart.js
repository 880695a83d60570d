// The candlestick + volume chart (TradingView lightweight-charts, served from node_modules), its
// moving-average overlays and the readout of the candle under the crosshair.
// Chart coordinates are numbers by nature; they are drawn, never used for money arithmetic: the
// readout shows the API's exact strings and the overlays' values come from indicators.js (big.js).
import { CandlestickSeries, HistogramSeries, LineSeries, createChart } from "/static/vendor/lightweight-charts.mjs";
import { INDICATORS, valueAt } from "./indicators.js";
import { Big, dec, fmt, plain } from "./num.js";

const UP = "#0ecb81";
const DOWN = "#f6465d";
export const OVERLAY_COLOURS = { MA: "#f0b90b", EMA: "#2f80ed" };

function palette() {
  const css = getComputedStyle(document.documentElement);
  const v = (name) => css.getPropertyValue(name).trim();
  return { bg: v("--panel"), text: v("--muted"), grid: v("--grid"), border: v("--line") };
}

function seconds(c) {
  return Math.floor(c.t / 1000);
}

function bar(c) {
  return { time: seconds(c), open: Number(c.o), high: Number(c.h), low: Number(c.l), close: Number(c.c) };
}

function volume(c) {
  return { time: seconds(c), value: Number(c.v),
    color: Number(c.c) >= Number(c.o) ? "rgba(14,203,129,0.35)" : "rgba(246,70,93,0.35)" };
}

export class CandleChart {
  /** `readout`: an element for the crosshair's candle (O H L C V, change, the overlays' values). */
  constructor(element, pricePrecision, minMove, { readout = null } = {}) {
    this.element = element;
    this.pricePrecision = pricePrecision;
    this.priceFormat = { type: "price", precision: pricePrecision, minMove };
    this.readout = readout;
    this.chart = createChart(element, {
      autoSize: true,
      layout: { attributionLogo: false },  // its logo needs an inline style; the page credits TradingView instead
      timeScale: { timeVisible: true, secondsVisible: false, rightOffset: 4 },
      crosshair: { mode: 0 },
    });
    this.candles = this.chart.addSeries(CandlestickSeries, {
      upColor: UP, downColor: DOWN, borderUpColor: UP, borderDownColor: DOWN, wickUpColor: UP, wickDownColor: DOWN,
      priceFormat: this.priceFormat,
    });
    // The volume keeps off the price axis: no tag of its own there, no line across the candles.
    this.volume = this.chart.addSeries(HistogramSeries, { priceFormat: { type: "volume" }, priceScaleId: "vol",
      lastValueVisible: false, priceLineVisible: false });
    this.chart.priceScale("vol").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    this.candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.25 } });
    this.lastTime = 0;
    this.bars = [];  // the API's candles as they came (exact strings), oldest first
    this.closes = [];  // their closes as Big
    this.byTime = new Map();  // chart time (s) -> index in bars
    this.overlays = new Map();  // "MA" | "EMA" -> { period, series, values }
    this.applyTheme();
    document.addEventListener("themechange", () => this.applyTheme());
    this.chart.subscribeCrosshairMove((param) => this.showReadout(param.time === undefined ? null : param.time));
  }

  applyTheme() {
    const p = palette();
    this.chart.applyOptions({
      layout: { background: { color: p.bg }, textColor: p.text, attributionLogo: false },
      grid: { vertLines: { color: p.grid }, horzLines: { color: p.grid } },
      rightPriceScale: { borderColor: p.border },
      timeScale: { borderColor: p.border },
    });
  }

  setCandles(interval, candles) {
    this.candles.setData(candles.map(bar));
    this.volume.setData(candles.map(volume));
    this.bars = [...candles];
    this.closes = candles.map((c) => new Big(c.c));
    this.byTime = new Map(candles.map((c, i) => [seconds(c), i]));
    for (const [kind, overlay] of this.overlays) this.drawOverlay(kind, overlay);
    this.lastTime = candles.length ? seconds(candles[candles.length - 1]) : 0;
    this.element.dataset.interval = interval;
    this.element.dataset.candles = String(candles.length);
    this.chart.timeScale().scrollToRealTime();
    this.showReadout(null);
  }

  /** The live candle; an update older than the last drawn one is dropped (the library rejects it). */
  update(candle) {
    const time = seconds(candle);
    if (time < this.lastTime) return;
    if (time > this.lastTime || !this.bars.length) {
      this.element.dataset.candles = String(Number(this.element.dataset.candles) + 1);
      this.bars.push(candle);
      this.closes.push(new Big(candle.c));
      this.byTime.set(time, this.bars.length - 1);
    } else {
      this.bars[this.bars.length - 1] = candle;
      this.closes[this.closes.length - 1] = new Big(candle.c);
    }
    this.lastTime = time;
    this.candles.update(bar(candle));
    this.volume.update(volume(candle));
    const i = this.bars.length - 1;
    for (const [kind, overlay] of this.overlays) {
      overlay.values[i] = valueAt(kind, this.closes, overlay.values, i, overlay.period);
      if (overlay.values[i] !== null) overlay.series.update({ time, value: Number(overlay.values[i].toFixed()) });
    }
    if (this.hovered === null || this.hovered === undefined) this.showReadout(null);
  }

  /** Show (period a number) or remove (null) the "MA" or "EMA" overlay. */
  setOverlay(kind, period) {
    const known = this.overlays.get(kind);
    if (known) {
      this.chart.removeSeries(known.series);
      this.overlays.delete(kind);
    }
    if (period) {
      const series = this.chart.addSeries(LineSeries, { color: OVERLAY_COLOURS[kind], lineWidth: 2,
        priceFormat: this.priceFormat, priceLineVisible: false, lastValueVisible: false,
        crosshairMarkerVisible: false });
      const overlay = { period, series, values: [] };
      this.overlays.set(kind, overlay);
      this.drawOverlay(kind, overlay);
    }
    this.element.dataset.overlays = [...this.overlays].map(([k, o]) => `${k} ${o.period}`).join(",");
    this.element.dataset.series = String(this.chart.panes().reduce((n, pane) => n + pane.getSeries().length, 0));
    this.showReadout(this.hovered ?? null);
  }

  drawOverlay(kind, overlay) {
    overlay.values = INDICATORS[kind](this.closes, overlay.period);
    overlay.series.setData(overlay.values.flatMap((v, i) => (v === null ? []
      : [{ time: seconds(this.bars[i]), value: Number(v.toFixed()) }])));
  }

  /** The candle at chart time `time` (s), or the last one when the crosshair is off the chart. */
  showReadout(time) {
    this.hovered = time;
    if (!this.readout) return;
    const i = time === null ? this.bars.length - 1 : this.byTime.get(time);
    const c = this.bars[i];
    if (!c) {
      this.readout.replaceChildren();
      return;
    }
    const dp = this.pricePrecision;
    const open = dec(c.o);
    const change = dec(c.c).minus(open);
    const pct = open.gt(0) ? change.div(open).times(100) : new Big(0);
    const sign = change.gte(0) ? "+" : "";
    const items = [["O", "Open", c.o, fmt(c.o, dp)], ["H", "High", c.h, fmt(c.h, dp)], ["L", "Low", c.l, fmt(c.l, dp)],
      ["C", "Close", c.c, fmt(c.c, dp)], ["V", "Volume", c.v, plain(c.v)],
      ["Chg", "Change", plain(change), `${sign}${fmt(change, dp)} (${sign}${fmt(pct, 2)}%)`]];
    for (const [kind, overlay] of this.overlays) {
      const v = overlay.values[i];
      items.push([`${kind} ${overlay.period}`, `${kind} ${overlay.period}`, v ? v.toFixed() : "", v ? fmt(v, dp) : "—"]);
    }
    this.readout.dataset.time = String(c.t);
    this.readout.dataset.move = change.gte(0) ? "up" : "down";
    this.readout.replaceChildren(...items.flatMap(([key, label, value, text]) => {
      const dt = document.createElement("dt");
      dt.textContent = key;
      const dd = document.createElement("dd");
      dd.textContent = text;
      dd.dataset.value = value;
      dd.setAttribute("aria-label", label);
      if (key.startsWith("MA") || key.startsWith("EMA")) dd.dataset.overlay = key.split(" ")[0];
      return [dt, dd];
    }));
  }
}
