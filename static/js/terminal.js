// The trading terminal: wires the chart, the order form, the tables, the live connection and the
// session (its end stops the connection and keeps what the trader typed for after the sign-in).
import { api, onUnauthorized } from "./api.js";
import { DEPTH, OrderBook } from "./book.js";
import { CfdDesk } from "./cfd.js";
import { CandleChart } from "./chart.js";
import { ChartSummary } from "./chart-summary.js";
import { ChartLines } from "./chart_lines.js";
import { saveDraft, takeDraft } from "./draft.js";
import { setupHotkeys, setupSplitters, setupTabs, toaster } from "./layout.js";
import { Live } from "./live.js";
import { Notifications, cfdNotice, orderNotice } from "./notifications.js";
import { dec, decimalsOf, fmt, plain } from "./num.js";
import { OfflineGuard } from "./offline.js";
import { OrderForm } from "./order-form.js";
import { Portfolio } from "./portfolio.js";
import { Session } from "./session.js";
import { OPEN_STATUSES, renderBalances, renderFills, renderHistory, renderOpenOrders, renderPositions } from "./tables.js";
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
  marketStale: false,  // the feed said so (MARKET_STATUS)
  offline: false,  // the WebSocket is down: no price on the page is current
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

// ---- portfolio, notifications, offline, the chart's text alternative (h-portfolio) ----
const portfolio = new Portfolio({ pane: $("pane-portfolio") });
const notifications = new Notifications({
  button: $("notif-button"), count: $("notif-count"), panel: $("notif-panel"), list: $("notif-list"),
  empty: $("notif-empty"), clear: $("notif-clear"), toggle: $("notif-browser"), permission: $("notif-permission"),
});
const offline = new OfflineGuard({ root, notice: $("offline-notice"), onBack: () => {
  form.clearError();  // errors from the outage ("cannot be reached") no longer hold
  desk.showError("");
} });
const chartSummary = new ChartSummary($("chart-summary"), spec.symbol, decimalsOf(spec.tickSize));
document.querySelector(".skip-link").addEventListener("click", (event) => {
  const target = document.querySelector('[role="tabpanel"]:not([hidden]) .order-form input:not([type="hidden"]):not(:disabled)');
  if (!target) return;
  event.preventDefault();
  target.focus();
});
// ---- end h-portfolio ----

// ---- drawing (coalesced to one redraw per animation frame, and only the parts that changed:
// order rows are never rebuilt on a price tick, so a click on their buttons is never lost) ----
const dirty = new Set();
function redraw(...parts) {
  const first = dirty.size === 0;
  for (const part of parts.length ? parts : ["orders", "positions", "balances"]) dirty.add(part);
  if (!first) return;
  requestAnimationFrame(() => {
    if (dirty.has("orders")) {
      renderOpenOrders($("open-orders").tBodies[0], $("open-empty"), $("open-count"), state.orders, cancel, editPrice);
      renderHistory($("order-history").tBodies[0], $("history-empty"), new Map([...history.older, ...state.orders]),
        historyKeep);
      lines.setOrders(state.orders);
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

/** A live feed gone silent: market orders are refused until it flows again; and while the page is
 * disconnected, whatever it shows is stale too. */
function showStale(stale) {
  if (stale !== undefined) state.marketStale = stale;
  const badge = $("stale");
  badge.hidden = !(state.marketStale || state.offline);
  badge.textContent = state.offline ? "Prices stale: disconnected" : "Prices stale";
  $("last-price").closest(".ticker").dataset.stale = String(!badge.hidden);
}

// ---- orders ----
function mergeOrder(update) {
  const known = state.orders.get(update.orderId);
  if (known && (known.version ?? -1) > (update.version ?? -1)) return;  // an older update: drop it
  const merged = { ...known, ...update };
  state.orders.set(update.orderId, merged);
  notifications.add(orderNotice(merged, known));
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
    if (interval === state.interval) {
      chart.setCandles(interval, data.candles);
      chartSummary.setCandles(interval, data.candles);
    }
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

// ---- orders: chart lines and drag-to-amend, the price edit, cancel-all, history paging and fills ----
const lines = new ChartLines({ chart, symbol: spec.symbol, tickSize: spec.tickSize, list: $("chart-lines"),
  onDrop: (drag, price) => (drag.kind === "order" ? amendOrder(drag.order, price)
    : amendPosition(drag.position, drag.field, price)) });

/** Move an order to `price` (one order moves, or none: the server refuses, or rejects the new one, if the old
 * one filled meanwhile, and the toast says so). True when the amend was accepted. */
async function amendOrder(order, price) {
  const refused = session.refuse("amend");
  if (refused) {
    toast("error", `Amend: ${refused}`);
    return false;
  }
  try {
    const placed = await api("POST", `/api/trading/orders/${order.orderId}/replace`,
      { price, clientOrderId: "amend-" + crypto.randomUUID().replaceAll("-", "").slice(0, 24) });
    toast("info", `Order ${order.orderId} moving to ${plain(price)} (new order ${placed.orderId})`);
    return true;
  } catch (error) {
    toast("error", `Amend failed: ${session.failure("amend", error)}`);
    return false;
  }
}

async function amendPosition(position, field, price) {
  const refused = session.refuse("amend");
  if (refused) {
    toast("error", `Amend: ${refused}`);
    return false;
  }
  try {
    await api("PATCH", `/api/cfd/positions/${position.id}`, { [field]: price });
    toast("info", `Position ${position.id}: ${field === "stopLossPrice" ? "stop-loss" : "take-profit"} set to ${plain(price)}`);
    return true;
  } catch (error) {
    toast("error", `Amend failed: ${session.failure("amend", error)}`);
    return false;
  }
}

function editPrice(order) {
  const dialog = $("amend-order");
  const input = $("amend-price");
  $("amend-title").textContent = `Edit price of order ${order.orderId}`;
  input.value = plain(order.price);
  dialog.addEventListener("close", () => {
    const price = input.value.trim();
    if (dialog.returnValue !== "save" || price === plain(order.price)) return;
    if (dec(price) === null || !dec(price).gt(0)) {
      toast("error", "Amend: enter a price greater than zero");
      return;
    }
    amendOrder(order, price);
  }, { once: true });
  dialog.showModal();
  input.select();
}

async function cancelAll(symbol) {
  const refused = session.refuse("cancel request");
  if (refused) {
    toast("error", `Cancel: ${refused}`);
    return;
  }
  try {
    const done = await api("DELETE", symbol ? `/api/trading/orders?symbol=${symbol}` : "/api/trading/orders");
    toast("info", done.orders.length ? `Cancel requested for ${done.orders.length} orders` : "No open orders to cancel");
  } catch (error) {
    toast("error", `Cancel failed: ${session.failure("cancel request", error)}`);
  }
}
$("cancel-symbol").addEventListener("click", () => cancelAll(spec.symbol));
$("cancel-everything").addEventListener("click", () => cancelAll(null));

// The history: the live orders (the snapshot's and every update since) and older pages read on demand,
// both shown through the same filters (applied by the server to the pages, and here to the live ones).
// `recentOldest`: the oldest of the snapshot's recent orders; everything newer is live on the page already
// (open orders older than it are too, which is why it, not the oldest row shown, is where paging starts).
const history = { older: new Map(), cursor: undefined, filters: {}, recentOldest: null };

function dayMs(value, next) {
  if (!value) return null;
  return Date.parse(`${value}T00:00:00Z`) + (next ? 86_400_000 : 0);
}

function historyKeep(o) {
  const f = history.filters;
  if (f.symbol && o.symbol !== f.symbol) return false;
  if (f.side && o.side !== f.side) return false;
  if (f.status && (f.status === "OPEN" ? !OPEN_STATUSES.has(o.status) : o.status !== f.status)) return false;
  if (f.from !== null && f.from !== undefined && o.time < f.from) return false;
  return !(f.to !== null && f.to !== undefined && o.time >= f.to);
}

function historyQuery(cursor) {
  const f = history.filters;
  const q = new URLSearchParams({ limit: "50" });
  for (const key of ["symbol", "side", "status"]) if (f[key]) q.set(key, f[key]);
  if (f.from !== null && f.from !== undefined) q.set("from", String(f.from));
  if (f.to !== null && f.to !== undefined) q.set("to", String(f.to));
  if (cursor) q.set("cursor", String(cursor));
  return q;
}

async function loadHistory(first) {
  const cursor = first ? null : (history.cursor === undefined ? history.recentOldest : history.cursor);
  try {
    const page = await api("GET", `/api/trading/orders?${historyQuery(cursor)}`);
    if (first) history.older = new Map();
    for (const o of page.orders) history.older.set(o.orderId, { ...o, orderType: o.type });
    history.cursor = page.nextCursor;
    const more = $("history-more");
    more.disabled = page.nextCursor === null;
    more.textContent = page.nextCursor === null ? "No older orders" : "Load older orders";
    redraw("orders");
  } catch (error) {
    toast("error", `Order history: ${error.message}`);
  }
}

$("history-filters").addEventListener("submit", (event) => {
  event.preventDefault();
  history.filters = { symbol: $("history-symbol").value, side: $("history-side").value,
    status: $("history-status").value, from: dayMs($("history-from").value, false), to: dayMs($("history-to").value, true) };
  const csv = new URLSearchParams();
  for (const key of ["symbol", "from", "to"]) {
    if (history.filters[key]) csv.set(key, String(history.filters[key]));
  }
  $("orders-csv").href = `/api/trading/orders.csv${csv.size ? `?${csv}` : ""}`;
  $("fills-csv").href = `/api/trading/fills.csv${csv.size ? `?${csv}` : ""}`;
  history.cursor = undefined;
  loadHistory(true);
});
$("history-more").addEventListener("click", () => loadHistory(false));

const fills = { rows: [], cursor: null };
async function loadFills(first) {
  try {
    const q = new URLSearchParams({ limit: "50" });
    if (!first && fills.cursor) q.set("cursor", String(fills.cursor));
    const page = await api("GET", `/api/trading/fills?${q}`);
    fills.rows = first ? page.fills : [...fills.rows, ...page.fills];
    fills.cursor = page.nextCursor;
    const more = $("fills-more");
    more.disabled = page.nextCursor === null;
    more.textContent = page.nextCursor === null ? "No older fills" : "Load older fills";
    renderFills($("fills-table").tBodies[0], $("fills-empty"), fills.rows);
  } catch (error) {
    toast("error", `Fills: ${error.message}`);
  }
}
$("tab-fills").addEventListener("click", () => loadFills(true));
$("fills-more").addEventListener("click", () => loadFills(false));
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
      history.recentOldest = m.recentOrders.length ? Math.min(...m.recentOrders.map((o) => o.orderId)) : null;
      state.balances = new Map(m.balances.map((b) => [b.asset, b]));
      state.positions = new Map(m.positions.map((p) => [p.asset, p]));
      loadCandles();  // after a gap the chart reloads its history too
      subscribeMarket();
      desk.reload().then(() => lines.setPositions(desk.open));
      redraw();
      portfolio.changed();
      break;
    case "CFD_UPDATE":
      desk.onUpdate(m);
      if (m.event !== "PNL") {
        notifications.add(cfdNotice(m));
        portfolio.changed();
        lines.setPositions(desk.open);
      }
      break;
    case "ORDER_UPDATE":
      mergeOrder(m);
      redraw("orders");
      break;
    case "BALANCE_UPDATE":
      for (const b of m.balances) state.balances.set(b.asset, b);
      redraw("balances");
      portfolio.changed();
      break;
    case "POSITION_UPDATE":
      for (const p of m.positions) state.positions.set(p.asset, { ...state.positions.get(p.asset), ...p });
      redraw("positions");
      portfolio.changed();
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
      if (m.symbol === spec.symbol && m.interval === state.interval) {
        chart.update(m.candle);
        chartSummary.update(m.candle);
      }
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
  // Offline once a connection was lost; the first connect of the page and a signed-out session (whose notice
  // says what to do) are not outages.
  state.offline = kind === "offline" || kind === "reconnecting";
  offline.set(!state.offline);
  showStale();
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
