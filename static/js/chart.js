// The candlestick + volume chart (TradingView lightweight-charts, served from node_modules).
// Chart coordinates are numbers by nature; they are drawn, never used for money arithmetic.
import { CandlestickSeries, HistogramSeries, createChart } from "/static/vendor/lightweight-charts.mjs";

const UP = "#0ecb81";
const DOWN = "#f6465d";

function palette() {
  const css = getComputedStyle(document.documentElement);
  const v = (name) => css.getPropertyValue(name).trim();
  return { bg: v("--panel"), text: v("--muted"), grid: v("--grid"), border: v("--line") };
}

function bar(c) {
  return { time: Math.floor(c.t / 1000), open: Number(c.o), high: Number(c.h), low: Number(c.l), close: Number(c.c) };
}

function volume(c) {
  return { time: Math.floor(c.t / 1000), value: Number(c.v),
    color: Number(c.c) >= Number(c.o) ? "rgba(14,203,129,0.35)" : "rgba(246,70,93,0.35)" };
}

export class CandleChart {
  constructor(element, pricePrecision, minMove) {
    this.element = element;
    this.chart = createChart(element, {
      autoSize: true,
      layout: { attributionLogo: false },  // its logo needs an inline style; the page credits TradingView instead
      timeScale: { timeVisible: true, secondsVisible: false, rightOffset: 4 },
      crosshair: { mode: 0 },
    });
    this.candles = this.chart.addSeries(CandlestickSeries, {
      upColor: UP, downColor: DOWN, borderUpColor: UP, borderDownColor: DOWN, wickUpColor: UP, wickDownColor: DOWN,
      priceFormat: { type: "price", precision: pricePrecision, minMove },
    });
    this.volume = this.chart.addSeries(HistogramSeries, { priceFormat: { type: "volume" }, priceScaleId: "vol" });
    this.chart.priceScale("vol").applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });
    this.candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.25 } });
    this.lastTime = 0;
    this.applyTheme();
    document.addEventListener("themechange", () => this.applyTheme());
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
    this.lastTime = candles.length ? Math.floor(candles[candles.length - 1].t / 1000) : 0;
    this.element.dataset.interval = interval;
    this.element.dataset.candles = String(candles.length);
    this.chart.timeScale().scrollToRealTime();
  }

  /** The live candle; an update older than the last drawn one is dropped (the library rejects it). */
  update(candle) {
    const time = Math.floor(candle.t / 1000);
    if (time < this.lastTime) return;
    if (time > this.lastTime) this.element.dataset.candles = String(Number(this.element.dataset.candles) + 1);
    this.lastTime = time;
    this.candles.update(bar(candle));
    this.volume.update(volume(candle));
  }
}
