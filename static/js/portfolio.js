// The Portfolio tab: total equity as the server values it (`/api/account/equity`'s `now`), its curve over a
// chosen range, the allocation per asset (exact decimals, shares that add up to 100 %) and daily PnL.
// Every figure is the API's text; big.js only divides for the shares. The curve is drawn with numbers,
// as any chart coordinate is, never used for money.
import { AreaSeries, createChart } from "/static/vendor/lightweight-charts.mjs";
import { api } from "./api.js";
import { Big, dec, fmt, plain } from "./num.js";

const HOUR_MS = 3_600_000;
export const RANGES = { "1h": HOUR_MS, "1d": 24 * HOUR_MS, "1w": 7 * 24 * HOUR_MS, all: null };
const REFRESH_MS = 300;  // balance and position changes come in bursts: one reload per burst

/** Shares of `total` in hundredths of a percent, rounded so the shown shares add up to exactly 100.00
 * (largest remainder); plain half-even rounding when a value is negative (then no sum is promised). */
export function shares(values, total) {
  const exact = values.map((v) => v.times(10000).div(total));
  if (values.some((v) => v.lt(0))) return exact.map((x) => x.round(0, 2).div(100));
  const floors = exact.map((x) => x.round(0, 0));
  let left = Number(new Big(10000).minus(floors.reduce((a, b) => a.plus(b), new Big(0))));
  const order = exact.map((x, i) => [x.minus(floors[i]), i]).sort((a, b) => b[0].cmp(a[0]));
  for (const [, i] of order) {
    if (left <= 0) break;
    floors[i] = floors[i].plus(1);
    left -= 1;
  }
  return floors.map((f) => f.div(100));
}

/** One point per second (the chart's time unit): the last of each second, as the server's buckets keep the last. */
export function chartPoints(points) {
  const out = [];
  for (const p of points) {
    const time = Math.floor(p.time / 1000);
    const point = { time, value: Number(p.equity) };
    if (out.length && out[out.length - 1].time === time) out[out.length - 1] = point;
    else out.push(point);
  }
  return out;
}

function palette() {
  const css = getComputedStyle(document.documentElement);
  const v = (name) => css.getPropertyValue(name).trim();
  return { bg: v("--panel"), text: v("--muted"), grid: v("--grid"), border: v("--line"), line: v("--accent") };
}

export class Portfolio {
  constructor({ pane }) {
    this.pane = pane;
    this.$ = (id) => document.getElementById(id);
    this.range = localStorage.getItem("troupe-equity-range") || "1d";
    if (!(this.range in RANGES)) this.range = "1d";
    this.timer = null;
    this.loading = null;
    this.chartEl = this.$("equity-chart");
    this.chart = createChart(this.chartEl, {
      autoSize: true, layout: { attributionLogo: false },
      timeScale: { timeVisible: true, secondsVisible: false }, crosshair: { mode: 0 },
    });
    this.series = this.chart.addSeries(AreaSeries, { lineWidth: 2, priceFormat: { type: "price", precision: 2, minMove: 0.01 } });
    this.applyTheme();
    document.addEventListener("themechange", () => this.applyTheme());
    // Loaded while shown: when the tab is selected (by click or arrow key), and on changes while it is open.
    new MutationObserver(() => { if (!pane.hidden) this.load(); })
      .observe(pane, { attributes: true, attributeFilter: ["hidden"] });
    for (const button of pane.querySelectorAll(".range-button")) {
      button.addEventListener("click", () => {
        this.range = button.dataset.range;
        localStorage.setItem("troupe-equity-range", this.range);
        this.load();
      });
    }
  }

  applyTheme() {
    const p = palette();
    this.chart.applyOptions({
      layout: { background: { color: p.bg }, textColor: p.text, attributionLogo: false },
      grid: { vertLines: { color: p.grid }, horzLines: { color: p.grid } },
      rightPriceScale: { borderColor: p.border }, timeScale: { borderColor: p.border },
    });
    this.series.applyOptions({ lineColor: p.line, topColor: `${p.line}55`, bottomColor: `${p.line}08` });
  }

  /** Something that moves equity happened (a fill, a balance, a CFD event): reload once the burst is over. */
  changed() {
    clearTimeout(this.timer);
    if (this.pane.hidden) return;  // the next showing loads afresh
    this.timer = setTimeout(() => this.load(), REFRESH_MS);
  }

  async load() {
    clearTimeout(this.timer);
    const range = this.range;
    for (const b of this.pane.querySelectorAll(".range-button")) b.setAttribute("aria-pressed", String(b.dataset.range === range));
    const span = RANGES[range];
    const query = span === null ? "from=0" : `from=${Date.now() - span}`;
    const error = this.$("portfolio-error");
    try {
      const [curve, days] = await Promise.all([api("GET", `/api/account/equity?${query}`), api("GET", "/api/account/pnl/daily")]);
      if (range !== this.range) return;  // a newer range was chosen meanwhile; its own load draws it
      error.hidden = true;
      this.drawNow(curve.now);
      this.drawCurve(curve, range);
      this.drawDays(days.days);
    } catch (e) {
      error.textContent = `Portfolio: ${e.message}`;
      error.hidden = false;
    }
  }

  drawNow(now) {
    for (const [id, value] of [["portfolio-equity", now.equity], ["portfolio-spot", now.spot], ["portfolio-cfd", now.cfd]]) {
      const el = this.$(id);
      el.textContent = fmt(value, 2);
      el.dataset.value = value;
      el.title = `${plain(value)} USDT`;
    }
    const total = dec(now.equity);
    const rows = now.assets.filter((a) => !dec(a.value).eq(0)).map((a) => ({ name: a.asset, value: a.value }));
    if (!dec(now.cfd).eq(0)) rows.push({ name: "CFD", value: now.cfd });
    const list = this.$("allocation");
    if (!total || total.lte(0) || !rows.length) {
      list.replaceChildren();
      return;
    }
    const pcts = shares(rows.map((r) => dec(r.value)), total);
    list.replaceChildren(...rows.map((r, i) => {
      const li = document.createElement("li");
      li.dataset.asset = r.name;
      li.dataset.value = r.value;
      li.dataset.pct = pcts[i].toFixed(2);
      const name = document.createElement("span");
      name.className = "allocation-asset";
      name.textContent = r.name;
      const amount = document.createElement("span");
      amount.className = "allocation-value";
      amount.textContent = `${plain(r.value)} USDT`;
      const pct = document.createElement("span");
      pct.className = "allocation-pct";
      pct.textContent = `${pcts[i].toFixed(2)} %`;
      const bar = document.createElement("span");
      bar.className = "allocation-bar";
      bar.setAttribute("aria-hidden", "true");
      const fillBar = document.createElement("span");
      fillBar.style.width = `${Math.max(0, Math.min(100, Number(pcts[i])))}%`;  // CSSOM, allowed by the CSP
      bar.append(fillBar);
      li.append(name, pct, amount, bar);
      return li;
    }));
  }

  drawCurve(curve, range) {
    const points = chartPoints(curve.points);
    this.series.setData(points);
    this.chart.timeScale().fitContent();
    this.chartEl.dataset.points = String(points.length);
    this.chartEl.dataset.range = range;
    this.chartEl.dataset.last = curve.points.length ? curve.points[curve.points.length - 1].equity : "";
    const last = curve.points.at(-1);
    this.chartEl.setAttribute("aria-label", last
      ? `Equity curve, ${range}: ${curve.points.length} points at ${curve.interval}, last ${plain(last.equity)} USDT`
      : `Equity curve, ${range}: no points recorded yet`);
  }

  drawDays(days) {
    const rows = [...days].reverse().map((d) => {
      const tr = document.createElement("tr");
      tr.dataset.day = d.date;
      const pnl = dec(d.pnl);
      const td = (text, cls, value) => {
        const c = document.createElement("td");
        c.textContent = text;
        if (cls) c.className = cls;
        if (value !== undefined) c.dataset.value = value;
        return c;
      };
      tr.append(td(d.date), td(fmt(d.close, 2), "num", d.close),
        td(`${pnl.gt(0) ? "+" : ""}${fmt(d.pnl, 2)}`, `num pnl ${pnl.gt(0) ? "up" : pnl.lt(0) ? "down" : ""}`, d.pnl));
      return tr;
    });
    this.$("daily-pnl").tBodies[0].replaceChildren(...rows);
    this.$("pnl-empty").hidden = rows.length > 0;
  }
}
