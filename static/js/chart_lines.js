// Price lines on the candle chart for what the trader has working on this symbol: each open order's
// limit price, stop triggers, both legs of an OCO (labelled with their list), and each CFD position's
// entry, stop-loss, take-profit and liquidation. A limit order's line and a position's SL/TP lines can
// be dragged: on release the page amends the order (or the position) at the price dropped on.
// Lines are mirrored in a list beside the chart (`#chart-lines`) so they can be read without the canvas.
// Prices stay strings: the chart's float coordinate is only ever snapped to the tick with big.js.
import { Big, decimalsOf, plain } from "./num.js";

const OPEN = new Set(["PENDING", "UNKNOWN", "NEW", "PARTIALLY_FILLED"]);
const TRIGGERED = new Set(["STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"]);
const LIMITS = new Set(["LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"]);
const GRAB_PX = 6;  // how near (in pixels) the pointer must be to a draggable line to grab it
const COLOURS = { BUY: "#0ecb81", SELL: "#f6465d", entry: "#8a8f98", sl: "#f0b90b", tp: "#3b82f6", liq: "#c026d3" };

/** Whether dragging this order's line amends it: a plain resting limit order, untouched. */
export function draggableOrder(o) {
  return ["LIMIT", "LIMIT_MAKER"].includes(o.orderType ?? o.type) && o.status === "NEW" && (o.orderListId ?? -1) === -1 && new Big(o.executedQty ?? "0").eq(0)
    && o.cancelRequested !== true;
}

/** The lines the open orders of `symbol` draw: [{key, price, title, colour, dashed, drag}]. */
export function orderLines(orders, symbol) {
  const out = [];
  for (const o of orders.values()) {
    if (o.symbol !== symbol || !OPEN.has(o.status)) continue;
    const type = o.orderType ?? o.type ?? "";
    const side = o.side === "BUY" ? "Buy" : "Sell";
    const list = (o.orderListId ?? -1) !== -1 ? `OCO #${o.orderListId} ` : "";
    const qty = plain(o.origQty ?? "");
    if (TRIGGERED.has(type) && o.stopPrice && !o.triggered) {
      out.push({ key: `order:${o.orderId}:stop`, price: o.stopPrice, colour: COLOURS[o.side], dashed: true,
        title: `${list}${side} ${qty} ${type.startsWith("STOP") ? "stop" : "take-profit"} trigger`, drag: null });
    }
    if (LIMITS.has(type) && o.price && (!TRIGGERED.has(type) || o.triggered)) {
      out.push({ key: `order:${o.orderId}:limit`, price: o.price, colour: COLOURS[o.side], dashed: false,
        title: `${list}${side} ${qty} limit`, drag: draggableOrder(o) ? { kind: "order", order: o } : null });
    }
  }
  return out;
}

/** The lines the open CFD positions of `symbol` draw. */
export function positionLines(positions, symbol) {
  const out = [];
  for (const p of positions.values()) {
    if (p.symbol !== symbol) continue;
    const name = `${p.direction === "LONG" ? "Long" : "Short"} #${p.id}`;
    out.push({ key: `cfd:${p.id}:entry`, price: p.entryPrice, colour: COLOURS.entry, dashed: false,
      title: `${name} entry`, drag: null });
    if (p.stopLossPrice) {
      out.push({ key: `cfd:${p.id}:sl`, price: p.stopLossPrice, colour: COLOURS.sl, dashed: true,
        title: `${name} stop-loss`, drag: { kind: "cfd", position: p, field: "stopLossPrice" } });
    }
    if (p.takeProfitPrice) {
      out.push({ key: `cfd:${p.id}:tp`, price: p.takeProfitPrice, colour: COLOURS.tp, dashed: true,
        title: `${name} take-profit`, drag: { kind: "cfd", position: p, field: "takeProfitPrice" } });
    }
    if (p.liquidationPrice && !new Big(p.liquidationPrice).eq(0)) {
      out.push({ key: `cfd:${p.id}:liq`, price: p.liquidationPrice, colour: COLOURS.liq, dashed: true,
        title: `${name} liquidation`, drag: null });
    }
  }
  return out;
}

export class ChartLines {
  /** `onDrop(drag, price)` amends what a dragged line stands for; it resolves false if that was refused. */
  constructor({ chart, symbol, tickSize, list, onDrop }) {
    this.chart = chart;
    this.series = chart.candles;
    this.symbol = symbol;
    this.tick = new Big(tickSize);
    this.dp = decimalsOf(tickSize);
    this.list = list;
    this.onDrop = onDrop;
    this.orders = [];
    this.positions = [];
    this.drawn = new Map();  // key -> { line, spec }
    this.drag = null;
    const el = chart.element;
    el.chartLines = this;  // for a test to find a line's height without reading pixels
    // The price scale takes the lines in, so every order and stop stays on screen (and can be grabbed).
    this.series.applyOptions({ autoscaleInfoProvider: (original) => this.autoscale(original()) });
    el.addEventListener("pointerdown", (event) => this.grab(event), { capture: true });
    el.addEventListener("pointermove", (event) => this.move(event), { capture: true });
    el.addEventListener("pointerup", (event) => this.drop(event), { capture: true });
    el.addEventListener("pointercancel", () => this.release(true), { capture: true });
  }

  autoscale(info) {
    const prices = [...this.drawn.values()].map(({ spec }) => Number(spec.price));
    if (info === null || prices.length === 0) return info;
    const { minValue, maxValue } = info.priceRange;
    return { ...info, priceRange: { minValue: Math.min(minValue, ...prices), maxValue: Math.max(maxValue, ...prices) } };
  }

  /** The height of a line (or of any price) in the chart, in pixels from its top. */
  coordinateOf(keyOrPrice) {
    const price = this.drawn.get(keyOrPrice)?.spec.price ?? keyOrPrice;
    return this.series.priceToCoordinate(Number(price));
  }

  setOrders(orders) {
    this.orders = orderLines(orders, this.symbol);
    this.sync();
  }

  setPositions(positions) {
    this.positions = positionLines(positions, this.symbol);
    this.sync();
  }

  sync() {
    const wanted = new Map([...this.orders, ...this.positions].map((s) => [s.key, s]));
    for (const [key, { line }] of this.drawn) {
      if (!wanted.has(key) && this.drag?.key !== key) {
        this.series.removePriceLine(line);
        this.drawn.delete(key);
      }
    }
    for (const [key, spec] of wanted) {
      if (this.drag?.key === key) continue;  // the line being dragged stays where the pointer has it
      const options = { price: Number(spec.price), color: spec.colour, lineWidth: spec.drag ? 2 : 1,
        lineStyle: spec.dashed ? 2 : 0, axisLabelVisible: true, title: `${spec.title} ${plain(spec.price)}` };
      const known = this.drawn.get(key);
      if (known) known.line.applyOptions(options);
      else this.drawn.set(key, { line: this.series.createPriceLine(options), spec });
      this.drawn.get(key).spec = spec;
    }
    this.mirror();
  }

  /** The accessible copy of the lines: one item per line, its price exact. */
  mirror() {
    const items = [...this.drawn.entries()].map(([key, { spec }]) => {
      const li = document.createElement("li");
      li.dataset.key = key;
      li.dataset.price = spec.price;
      li.dataset.draggable = String(spec.drag !== null);
      li.textContent = `${spec.title}: ${plain(spec.price)}`;
      return li;
    });
    this.list.replaceChildren(...items);
    this.chart.element.dataset.lines = String(items.length);
  }

  /** The price under a pointer, snapped to the tick (exact, from the coordinate's float). */
  priceAt(y) {
    const raw = this.series.coordinateToPrice(y);
    if (raw === null || !Number.isFinite(raw)) return null;
    const snapped = new Big(raw.toFixed(Math.min(this.dp + 2, 12))).div(this.tick).round(0, 1).times(this.tick);
    return snapped.gt(0) ? snapped.toFixed(this.dp) : null;
  }

  /** The pointer's height in the chart (events come from the library's canvases inside it). */
  height(event) {
    return event.clientY - this.chart.element.getBoundingClientRect().top;
  }

  grab(event) {
    const y = this.height(event);
    let best = null;
    for (const [key, { spec }] of this.drawn) {
      if (!spec.drag) continue;
      const at = this.series.priceToCoordinate(Number(spec.price));
      if (at === null) continue;
      const distance = Math.abs(at - y);
      if (distance <= GRAB_PX && (best === null || distance < best.distance)) best = { key, spec, distance };
    }
    if (best === null) return;
    event.preventDefault();
    event.stopPropagation();
    this.chart.element.setPointerCapture?.(event.pointerId);
    this.chart.chart.applyOptions({ handleScroll: false, handleScale: false });
    this.drag = { key: best.key, spec: best.spec, price: best.spec.price };
    this.chart.element.dataset.dragging = best.key;
  }

  move(event) {
    if (this.drag === null) return;
    event.stopPropagation();
    const price = this.priceAt(this.height(event));
    if (price === null) return;
    this.drag.price = price;
    this.drawn.get(this.drag.key)?.line.applyOptions({ price: Number(price),
      title: `${this.drag.spec.title} → ${plain(price)}` });
  }

  async drop(event) {
    if (this.drag === null) return;
    event.stopPropagation();
    const { spec, price } = this.drag;
    this.release(false);
    if (new Big(price).eq(spec.price)) {
      this.sync();
      return;
    }
    const ok = await this.onDrop(spec.drag, price);
    if (!ok) this.sync();  // refused: the line goes back to where the order still is
  }

  release(redraw) {
    if (this.drag === null) return;
    this.drag = null;
    delete this.chart.element.dataset.dragging;
    this.chart.chart.applyOptions({ handleScroll: true, handleScale: true });
    if (redraw) this.sync();
  }
}
