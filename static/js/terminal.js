// The trading terminal: wires the chart, the order form, the tables, the live connection and the
// session (its end stops the connection and keeps what the trader typed for after the sign-in).
import { api, onUnauthorized } from "./api.js";
import { DEPTH, OrderBook } from "./book.js";
import { CfdDesk } from "./cfd.js";
import { CandleChart } from "./chart.js";
import { saveDraft, takeDraft } from "./draft.js";
import { setupHotkeys, setupSplitters, setupTabs, toaster } from "./layout.js";
import { Live } from "./live.js";
import { dec, decimalsOf, fmt, plain } from "./num.js";
import { OrderForm } from "./order-form.js";
import { Session } from "./session.js";
import { OPEN_STATUSES, renderBalances, renderHistory, renderOpenOrders, renderPositions } from "./tables.js";
import { KEEP, TradeTape } from "./tape.js";
import { Watchlist } from "./watchlist.js";

const root = document.getElementById("terminal");
const spec = {
  symbol: root.dataset.symbol, base: root.dataset.base, quote: root.dataset.quote,
  tickSize: root.dataset.tickSize, stepSize: root.dataset.stepSize,
};
const symbols = root.dataset.symbols.split(",");
const $ = (id) => document.getElementById(id);

const state = {
  interval: localStorage.getItem("troupe-interval") || "1m",
  orders: new Map(),
  balances: new Map(),
  positions: new Map(),
  ticks: new Map(),
  open24h: null,
};
if (!root.dataset.intervals.split(",").includes(state.interval)) state.interval = "1m";

const toast = toaster($("toasts"));
const session = new Session({
  expiresAt: Number(root.dataset.sessionExpires) || 0, accessExpiresAt: Number(root.dataset.accessExpires) || 0,
  notice: $("session-notice"),
  onEnded: signedOut, onRefused: keepDraft,
});
const chart = new CandleChart($("chart"), decimalsOf(spec.tickSize), Number(spec.tickSize), { readout: $("ohlc") });
const form = new OrderForm({
  form: $("order-form"), spec, toast, session,
  balanceOf: (asset) => state.balances.get(asset)?.free ?? null,
});

const desk = new CfdDesk({ spec, toast, session, quoteOf: (symbol) => state.ticks.get(symbol) ?? null });

// ---- drawing (coalesced to one redraw per animation frame, and only the parts that changed:
// order rows are never rebuilt on a price tick, so a click on their buttons is never lost) ----
const dirty = new Set();
function redraw(...parts) {
  const first = dirty.size === 0;
  for (const part of parts.length ? parts : ["orders", "positions", "balances"]) dirty.add(part);
  if (!first) return;
  requestAnimationFrame(() => {
    if (dirty.has("orders")) {
      renderOpenOrders($("open-orders").tBodies[0], $("open-empty"), $("open-count"), state.orders, cancel);
      renderHistory($("order-history").tBodies[0], $("history-empty"), state.orders);
    }
    if (dirty.has("positions")) renderPositions($("positions-table").tBodies[0], $("positions-empty"), state.positions, markOf);
    if (dirty.has("balances")) renderBalances($("balances-table").tBodies[0], state.balances);
    dirty.clear();
    form.update();
  });
}

function markOf(asset) {
  return state.ticks.get(`${asset}${spec.quote}`)?.price ?? null;
}

function drawTicker(tick) {
  const last = $("last-price");
  const previous = dec(last.dataset.value);
  last.textContent = fmt(tick.price, decimalsOf(spec.tickSize));
  last.dataset.value = tick.price;
  const price = dec(tick.price);
  if (previous && price && !price.eq(previous)) last.dataset.move = price.gt(previous) ? "up" : "down";
  document.title = `${fmt(tick.price, decimalsOf(spec.tickSize))} · ${spec.symbol} · Troupe`;
  const open = dec(state.open24h ?? "");
  const change = $("change-24h");
  if (open && open.gt(0) && price) {
    const pct = price.minus(open).div(open).times(100);
    change.textContent = `${pct.gte(0) ? "+" : ""}${fmt(pct, 2)}%`;
    change.dataset.move = pct.gte(0) ? "up" : "down";
  }
}

/** A live feed gone silent: market orders are refused until it flows again. */
function showStale(stale) {
  $("stale").hidden = !stale;
}

// ---- orders ----
function mergeOrder(update) {
  const known = state.orders.get(update.orderId);
  if (known && (known.version ?? -1) > (update.version ?? -1)) return;  // an older update: drop it
  const merged = { ...known, ...update };
  state.orders.set(update.orderId, merged);
  if (known && known.status !== merged.status) announce(merged);
  if (!known && !OPEN_STATUSES.has(merged.status)) announce(merged);
}

function announce(order) {
  const side = order.side === "BUY" ? "Buy" : "Sell";
  if (order.status === "FILLED") {
    toast("ok", `${side} ${plain(order.executedQty)} ${order.symbol} filled at ${plain(order.avgPrice)}`);
  } else if (order.status === "REJECTED") {
    toast("error", `${side} ${order.symbol} rejected: ${order.rejectReason ?? "no reason given"}`);
  } else if (order.status === "CANCELED") {
    toast("info", `Order ${order.orderId} canceled`);
  } else if (order.status === "EXPIRED") {
    toast("info", `Order ${order.orderId} expired (${plain(order.executedQty)} filled)`);
  }
}

async function cancel(order, button) {
  const refused = session.refuse("cancel request");
  if (refused) {
    toast("error", `Cancel: ${refused}`);
    return;
  }
  button.disabled = true;
  order.cancelRequested = true;
  try {
    await api("DELETE", `/api/trading/orders/${order.orderId}`);
  } catch (error) {
    order.cancelRequested = false;
    button.disabled = false;
    toast("error", `Cancel failed: ${session.failure("cancel request", error)}`);
  }
}

$("order-form").addEventListener("placed", (event) => {
  const placed = event.detail;
  if (!state.orders.has(placed.orderId)) {
    state.orders.set(placed.orderId, { ...placed, executedQty: "0", cummulativeQuoteQty: "0", version: -1,
      time: Date.now() });
  }
  redraw("orders");
});

// ---- market data ----
async function loadCandles() {
  const interval = state.interval;
  for (const b of document.querySelectorAll(".tf")) b.setAttribute("aria-pressed", String(b.dataset.interval === interval));
  try {
    const data = await api("GET", `/api/market/candles?symbol=${spec.symbol}&interval=${interval}&limit=500`);
    if (interval === state.interval) chart.setCandles(interval, data.candles);
  } catch (error) {
    toast("error", `Chart: ${error.message}`);
  }
}

async function loadTicker() {
  try {
    const { tickers } = await api("GET", "/api/market/ticker");
    watchlist.onTickers(tickers);
    const t = tickers.find((x) => x.symbol === spec.symbol);
    if (!t) return;  // no price yet: the WebSocket brings the first one
    state.open24h = t.open24h;
    showStale(t.stale === true);
    drawTicker(t);
    form.onTick(t);
  } catch { /* no price yet: the WebSocket brings the first one */ }
}

for (const button of document.querySelectorAll(".tf")) {
  button.addEventListener("click", () => {
    state.interval = button.dataset.interval;
    localStorage.setItem("troupe-interval", state.interval);
    live.send({ type: "subscribe", symbols, interval: state.interval });
    loadCandles();
  });
}

// ---- market panels (book, tape, watchlist, chart overlays) ----
const book = new OrderBook({ root: $("book"), spec, onPick: pickPrice });
const tape = new TradeTape({ tbody: $("tape").tBodies[0], spec });
const watchlist = new Watchlist({ nav: $("watchlist"), search: $("market-search"), empty: $("watchlist-empty") });

/** A book level's price into the order form, as a typed limit price (it no longer follows the market). */
function pickPrice(price) {
  form.setType("LIMIT");
  const input = $("price");
  input.value = price;
  input.dispatchEvent(new Event("input", { bubbles: true }));
}

async function loadBook() {
  try {
    book.apply(await api("GET", `/api/market/depth?symbol=${spec.symbol}&limit=${DEPTH}`));
  } catch { /* no book yet: the WebSocket brings it */ }
}

async function loadTape() {
  try {
    tape.resync((await api("GET", `/api/market/trades?symbol=${spec.symbol}&limit=${KEEP}`)).trades);
  } catch { /* no prints yet */ }
}

/** After every (re)connect: this market's book and prints too (the book comes at once, then each change). */
function subscribeMarket() {
  book.reset();
  live.send({ type: "subscribe", symbols: [spec.symbol], channels: ["book", "trades"] });
  loadTape();  // the prints missed while away
}

const OVERLAYS_KEY = "troupe-overlays";
function savedOverlays() {
  try {
    return JSON.parse(localStorage.getItem(OVERLAYS_KEY) || "{}") ?? {};
  } catch {
    return {};  // something else wrote the key: start without overlays
  }
}
const overlays = savedOverlays();
for (const toggle of document.querySelectorAll(".overlay-toggle")) {
  const kind = toggle.dataset.kind;
  const period = $(`${kind.toLowerCase()}-period`);
  if (overlays[kind]) period.value = String(overlays[kind]);
  const apply = (on) => {
    toggle.setAttribute("aria-pressed", String(on));
    toggle.setAttribute("aria-label", `${on ? "Hide" : "Show"} the ${kind} overlay`);
    overlays[kind] = on ? Number(period.value) : null;
    localStorage.setItem(OVERLAYS_KEY, JSON.stringify(overlays));
    chart.setOverlay(kind, overlays[kind]);
  };
  toggle.addEventListener("click", () => apply(toggle.getAttribute("aria-pressed") !== "true"));
  period.addEventListener("change", () => { if (toggle.getAttribute("aria-pressed") === "true") apply(true); });
  if (overlays[kind]) apply(true);
}
// ---- end of the market panels ----

// ---- the live connection ----
function onMessage(m) {
  switch (m.type) {
    case "SNAPSHOT":
      state.orders.clear();
      for (const o of [...m.recentOrders, ...m.openOrders]) state.orders.set(o.orderId, { ...o, orderType: o.type });
      state.balances = new Map(m.balances.map((b) => [b.asset, b]));
      state.positions = new Map(m.positions.map((p) => [p.asset, p]));
      loadCandles();  // after a gap the chart reloads its history too
      subscribeMarket();
      desk.reload();
      redraw();
      break;
    case "CFD_UPDATE":
      desk.onUpdate(m);
      break;
    case "ORDER_UPDATE":
      mergeOrder(m);
      redraw("orders");
      break;
    case "BALANCE_UPDATE":
      for (const b of m.balances) state.balances.set(b.asset, b);
      redraw("balances");
      break;
    case "POSITION_UPDATE":
      for (const p of m.positions) state.positions.set(p.asset, { ...state.positions.get(p.asset), ...p });
      redraw("positions");
      break;
    case "BOOK_UPDATE":
      if (m.symbol === spec.symbol) book.apply(m);
      break;
    case "TRADE":
      if (m.symbol === spec.symbol) tape.add(m.trades);
      break;
    case "PRICE_UPDATE":
      state.ticks.set(m.symbol, m);
      watchlist.onTick(m);
      desk.onTick(m.symbol);
      if (m.symbol === spec.symbol) {
        showStale(false);
        drawTicker(m);
        form.onTick(m);
      }
      redraw("positions");
      break;
    case "MARKET_STATUS":
      if (m.symbol === spec.symbol) showStale(m.stale);
      break;
    case "CANDLE_UPDATE":
      if (m.symbol === spec.symbol && m.interval === state.interval) chart.update(m.candle);
      break;
    default:
      break;
  }
}

function onState(kind, delayMs) {
  const indicator = $("conn");
  indicator.dataset.state = kind;
  indicator.textContent = kind === "live" ? "Live"
    : kind === "offline" ? `Offline · retrying in ${Math.max(1, Math.ceil(delayMs / 1000))} s`
      : kind === "reconnecting" ? "Reconnecting…" : kind === "signed-out" ? "Signed out" : "Connecting…";
}

const live = new Live({ onMessage, onState, onSignedOut: (reason) => session.end(reason),
  subscription: () => ({ symbols, interval: state.interval }) });

// ---- the session's end, and what the trader typed ----
function signedOut() {
  live.stop();
  onState("signed-out");
  keepDraft();
}

function keepDraft() {
  saveDraft(spec.symbol, { spot: form.draft(), cfd: desk.draft(),
    desk: $("tab-cfd").getAttribute("aria-selected") === "true" ? "cfd" : "spot" });
}

function restoreDraft(draft) {
  form.restore(draft.spot);
  desk.restore(draft.cfd);
  if (draft.desk === "cfd") $("tab-cfd").click();
  toast("info", "Restored what you typed before signing in: check it before you place the order.");
}

onUnauthorized(() => session.end(""));
for (const id of ["order-form", "cfd-form"]) {
  for (const kind of ["input", "change"]) $(id).addEventListener(kind, () => { if (session.ended) keepDraft(); });
}
$("session-signin").addEventListener("click", keepDraft);  // also before the end: signing in early keeps it too

for (const tablist of document.querySelectorAll('[role="tablist"]')) setupTabs(tablist);
setupSplitters(root);
setupHotkeys({ form, help: $("help") });
const draft = takeDraft(spec.symbol);
if (draft) restoreDraft(draft);
loadTicker();
setInterval(loadTicker, 60_000);
watchlist.loadSymbols().catch(() => { /* prices then show as the API writes them */ });
loadBook();
loadTape();
session.start();
if (!session.ended) live.start();
