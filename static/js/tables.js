// Open orders, order history, positions and balances, drawn from the page's state.
// Everything from the server goes in through textContent, never innerHTML.
import { draggableOrder } from "./chart_lines.js";
import { Big, dec, fmt, plain } from "./num.js";

export const OPEN_STATUSES = new Set(["PENDING", "UNKNOWN", "NEW", "PARTIALLY_FILLED"]);

export function cell(text, { num = false, value = null, cls = null } = {}) {
  const td = document.createElement("td");
  td.textContent = text;
  if (num) td.classList.add("num");
  if (cls) td.classList.add(cls);
  if (value !== null) td.dataset.value = value;
  return td;
}

export function time(ms) {
  if (!ms) return "—";
  const d = new Date(ms);
  return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

function statusCell(status) {
  const td = cell(status.replace("_", " "), { cls: "status" });
  td.dataset.status = status;
  return td;
}

/** Who placed it: "Web" (the terminal or Troupe's own API) or the API key of a bot on the Binance-compatible API. */
function viaCell(o) {
  const td = cell(o.apiKeyId == null ? "Web" : `Key #${o.apiKeyId}`, { cls: "via" });
  if (o.apiKeyId != null) td.title = `Placed through the Binance-compatible API with API key #${o.apiKeyId}`;
  return td;
}

function typeName(o) {
  return (o.orderType ?? o.type ?? "").replaceAll("_", " ");
}

function triggerText(o) {
  const parts = [];
  if (o.stopPrice) parts.push(`${o.triggered ? "✓ " : ""}${plain(o.stopPrice)}`);
  if (o.trailingDelta) parts.push(`trail ${fmt(new Big(o.trailingDelta).div(100), 2)} %`);
  return parts.length ? parts.join(" · ") : "—";
}

function sideCell(side) {
  return cell(side === "BUY" ? "Buy" : "Sell", { cls: side === "BUY" ? "up" : "down" });
}

function fill(tbody, rows, empty) {
  tbody.replaceChildren(...rows);
  empty.hidden = rows.length > 0;
}

/** Orders newest first. */
function sorted(orders) {
  return [...orders.values()].sort((a, b) => b.orderId - a.orderId);
}

export function renderOpenOrders(tbody, empty, counter, orders, onCancel, onEdit = null) {
  const rows = sorted(orders).filter((o) => OPEN_STATUSES.has(o.status)).map((o) => {
    const tr = document.createElement("tr");
    tr.dataset.orderId = String(o.orderId);
    const amount = o.origQty ?? o.quoteOrderQty;
    tr.append(cell(time(o.time)), cell(o.symbol), sideCell(o.side), cell(typeName(o)),
      cell(o.price ? plain(o.price) : "Market", { num: true, value: o.price ?? "" }),
      cell(triggerText(o), { num: true, value: o.stopPrice ?? "" }),
      cell(amount ? plain(amount) : "—", { num: true, value: amount ?? "" }),
      cell(plain(o.executedQty ?? "0"), { num: true, value: o.executedQty ?? "0" }),
      statusCell(o.status), viaCell(o));
    const actions = document.createElement("td");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "small danger-outline";
    button.textContent = "Cancel";
    button.setAttribute("aria-label", `Cancel order ${o.orderId}`);
    button.disabled = o.status === "PENDING" || o.cancelRequested === true;
    button.addEventListener("click", () => onCancel(o, button));
    if (onEdit && draggableOrder(o)) {  // the keyboard's way to what dragging the chart line does
      const edit = document.createElement("button");
      edit.type = "button";
      edit.className = "small";
      edit.textContent = "Edit price";
      edit.setAttribute("aria-label", `Edit price of order ${o.orderId}`);
      edit.addEventListener("click", () => onEdit(o));
      actions.append(edit);
    }
    actions.append(button);
    tr.append(actions);
    return tr;
  });
  counter.textContent = String(rows.length);
  fill(tbody, rows, empty);
}

/** Newest first, an OCO list's legs next to each other (under the list's newest leg). */
function grouped(orders) {
  const lists = new Map();
  for (const o of orders) {
    const list = o.orderListId ?? -1;
    if (list !== -1) lists.set(list, [...(lists.get(list) ?? []), o]);
  }
  const out = [];
  const placed = new Set();
  for (const o of orders) {
    const list = o.orderListId ?? -1;
    if (list === -1) out.push(o);
    else if (!placed.has(list)) {
      placed.add(list);
      out.push(...lists.get(list));
    }
  }
  return out;
}

export function renderHistory(tbody, empty, orders, keep = () => true) {
  const rows = grouped(sorted(orders).filter(keep)).map((o, i, all) => {
    const tr = document.createElement("tr");
    tr.dataset.orderId = String(o.orderId);
    const list = o.orderListId ?? -1;
    if (list !== -1) {  // one OCO list: its legs share a label and a frame
      tr.dataset.listId = String(list);
      tr.classList.add("oco-leg");
      if ((all[i - 1]?.orderListId ?? -1) !== list) tr.classList.add("oco-first");
      if ((all[i + 1]?.orderListId ?? -1) !== list) tr.classList.add("oco-last");
    }
    const amount = o.origQty ?? o.quoteOrderQty;
    const executed = dec(o.executedQty ?? "0");
    tr.append(cell(time(o.time)), cell(o.symbol), sideCell(o.side),
      cell(list !== -1 ? `OCO #${list} · ${typeName(o)}` : typeName(o)),
      cell(o.price ? plain(o.price) : "Market", { num: true, value: o.price ?? "" }),
      cell(executed && executed.gt(0) ? plain(o.avgPrice) : "—", { num: true, value: o.avgPrice ?? "" }),
      cell(amount ? plain(amount) : "—", { num: true, value: amount ?? "" }),
      cell(plain(o.executedQty ?? "0"), { num: true, value: o.executedQty ?? "0" }),
      cell(plain(o.cummulativeQuoteQty ?? "0"), { num: true, value: o.cummulativeQuoteQty ?? "0", cls: "total" }),
      statusCell(o.status), viaCell(o));
    if (o.rejectReason) tr.title = o.rejectReason;
    return tr;
  });
  fill(tbody, rows, empty);
}

/** Unrealized PnL = (mark − average entry) × quantity, exact; shown at 2 decimals, half-even. */
export function unrealized(position, mark) {
  const qty = dec(position.quantity);
  const entry = dec(position.avgEntryPrice);
  const m = dec(mark ?? "");
  if (qty === null || entry === null || m === null) return null;
  return m.minus(entry).times(qty);
}

export function renderPositions(tbody, empty, positions, markOf) {
  const rows = [...positions.values()].filter((p) => !new Big(p.quantity).eq(0) || !new Big(p.realizedPnl ?? "0").eq(0))
    .sort((a, b) => a.asset.localeCompare(b.asset)).map((p) => {
      const tr = document.createElement("tr");
      tr.dataset.asset = p.asset;
      const mark = markOf(p.asset) ?? p.markPrice ?? null;
      const pnl = unrealized(p, mark);
      const realized = dec(p.realizedPnl ?? "0");
      tr.append(cell(p.asset), cell(plain(p.quantity), { num: true, value: p.quantity }),
        cell(fmt(p.avgEntryPrice, 2), { num: true, value: p.avgEntryPrice }),
        cell(mark ? fmt(mark, 2) : "—", { num: true, value: mark ?? "" }),
        cell(pnl === null ? "—" : fmt(pnl, 2), { num: true, value: pnl === null ? "" : pnl.toFixed(),
          cls: pnl === null || pnl.eq(0) ? null : pnl.gt(0) ? "up" : "down" }),
        cell(fmt(realized, 2), { num: true, value: p.realizedPnl ?? "0",
          cls: realized === null || realized.eq(0) ? null : realized.gt(0) ? "up" : "down" }));
      return tr;
    });
  fill(tbody, rows, empty);
}

export function renderBalances(tbody, balances) {
  const rows = [...balances.values()].sort((a, b) => a.asset.localeCompare(b.asset)).map((b) => {
    const tr = document.createElement("tr");
    tr.dataset.asset = b.asset;
    tr.append(cell(b.asset), cell(plain(b.free), { num: true, value: b.free, cls: "free" }),
      cell(plain(b.locked), { num: true, value: b.locked, cls: "locked" }));
    return tr;
  });
  tbody.replaceChildren(...rows);
}

/** Fills newest first, as GET /api/trading/fills lists them. */
export function renderFills(tbody, empty, fills) {
  const rows = fills.map((f) => {
    const tr = document.createElement("tr");
    tr.dataset.fillId = String(f.id);
    tr.append(cell(time(f.time)), cell(f.symbol), sideCell(f.side), cell(String(f.orderId), { num: true }),
      cell(plain(f.price), { num: true, value: f.price, cls: "price" }),
      cell(plain(f.qty), { num: true, value: f.qty, cls: "qty" }),
      cell(plain(f.quoteQty), { num: true, value: f.quoteQty }),
      cell(`${plain(f.commission)} ${f.commissionAsset}`, { num: true, value: f.commission }));
    return tr;
  });
  fill(tbody, rows, empty);
}
