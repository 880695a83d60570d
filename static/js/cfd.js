// The CFD desk panel: open leveraged long/short positions, see the liquidation price before you
// submit (the server's formula and rounding, in exact decimals), live PnL, close, history.
import { api } from "./api.js";
import { readFields, writeFields } from "./fields.js";
import { Big, dec, decimalsOf, fmt, plain } from "./num.js";

const ROUND_UP = 3;
const ROUND_DOWN = 0;
// The ticket's fields, as kept across a sign-in.
const DRAFT_FIELDS = ["cfd-long", "cfd-short", "cfd-margin", "cfd-leverage", "cfd-sl", "cfd-tp", "cfd-transfer"];

/**
 * The liquidation price as the engine computes it: exact, then rounded to the tick toward entry.
 * A preview for the ticket only: the engine's (app/cfd/rules.py) is the one that counts, and
 * tests/cfd/test_rules.py runs this function against it.
 */
export function liquidationPrice(direction, entry, qty, margin, mmr, tick) {
  const side = direction === "LONG" ? 1 : -1;
  const exact = margin.minus(qty.times(entry).times(side)).div(qty.times(mmr).minus(qty.times(side)));
  if (direction === "LONG") {
    if (exact.lte(0)) return new Big(0);
    return exact.div(tick).round(0, ROUND_UP).times(tick);
  }
  return exact.div(tick).round(0, ROUND_DOWN).times(tick);
}

function cell(text, cls = null, value = null) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  if (value !== null) td.dataset.value = value;
  return td;
}

export class CfdDesk {
  /** `session` (session.js) refuses what would be sent after the sign-in has ended. */
  constructor({ spec, toast, quoteOf, session }) {
    this.spec = spec;
    this.toast = toast;
    this.quoteOf = quoteOf;
    this.session = session;
    this.open = new Map();
    this.closed = [];
    this.form = document.getElementById("cfd-form");
    this.mmr = new Big(this.form.dataset.mmr);
    this.tick = new Big(spec.tickSize);
    this.$ = (id) => document.getElementById(id);
    this.form.addEventListener("input", () => this.preview());
    this.form.addEventListener("change", () => this.preview());
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.$("cfd-transfer-button").addEventListener("click", () => this.transfer());
  }

  get direction() { return this.form.querySelector('input[name="direction"]:checked').value; }

  /** What the trader typed, to give back after a sign-in. */
  draft() {
    return readFields(this.form, DRAFT_FIELDS);
  }

  restore(draft) {
    writeFields(this.form, draft);
    this.preview();
  }

  async reload() {
    try {
      const [open, closed, account] = await Promise.all([
        api("GET", "/api/cfd/positions?status=open"), api("GET", "/api/cfd/positions?status=closed"),
        api("GET", "/api/cfd/account")]);
      this.open = new Map(open.positions.map((p) => [p.id, p]));
      this.closed = closed.positions;
      this.setBalance(account.balance);
      this.render();
    } catch (error) {
      if (error.status !== 401) this.toast("error", `CFD desk: ${error.message}`);  // 401: the session notice says it
    }
  }

  setBalance(balance) {
    const el = this.$("cfd-balance");
    el.textContent = `${plain(balance)} USDT`;
    el.dataset.value = balance;
  }

  preview() {
    const direction = this.direction;
    const leverage = new Big(this.$("cfd-leverage").value);
    this.$("cfd-leverage-out").textContent = `${plain(leverage.toFixed())}×`;
    this.$("cfd-leverage").setAttribute("aria-valuetext", `${plain(leverage.toFixed())}×`);
    const submit = this.$("cfd-submit");
    submit.textContent = direction === "LONG" ? "Open long" : "Open short";
    submit.classList.toggle("buy", direction === "LONG");
    submit.classList.toggle("sell", direction !== "LONG");
    const quote = this.quoteOf(this.spec.symbol);
    const margin = dec(this.$("cfd-margin").value);
    const set = (id, text, value = "") => { this.$(id).textContent = text; this.$(id).dataset.value = value; };
    if (!quote || margin === null || !margin.gt(0)) {
      for (const id of ["cfd-entry", "cfd-size", "cfd-liquidation"]) set(id, "—");
      return;
    }
    const entry = new Big(direction === "LONG" ? quote.ask : quote.bid);
    const qty = margin.times(leverage).div(entry).round(8, ROUND_DOWN);
    const dp = decimalsOf(this.spec.tickSize);
    set("cfd-entry", fmt(entry, dp), entry.toFixed());
    set("cfd-size", `${plain(qty.toFixed())} ${this.spec.base}`, qty.toFixed());
    if (qty.gt(0)) {
      const lp = liquidationPrice(direction, entry, qty, margin, this.mmr, this.tick);
      set("cfd-liquidation", lp.gt(0) ? fmt(lp, dp) : "none", lp.toFixed());
    }
  }

  showError(message) {
    const el = this.$("cfd-error");
    el.textContent = message;
    el.hidden = !message;
  }

  /** True when the session allows sending `what`; otherwise the form says it was not sent. */
  allowed(what) {
    const refused = this.session.refuse(what);
    this.showError(refused ?? "");
    return refused === null;
  }

  async submit() {
    if (!this.allowed("CFD order")) return;
    const margin = this.$("cfd-margin").value.trim();
    if (dec(margin) === null || !dec(margin).gt(0)) {
      this.showError("Enter a margin greater than zero");
      return;
    }
    const body = { symbol: this.spec.symbol, direction: this.direction, margin,
      leverage: plain(this.$("cfd-leverage").value), clientRequestId: crypto.randomUUID().replaceAll("-", "") };
    for (const [id, key] of [["cfd-sl", "stopLossPrice"], ["cfd-tp", "takeProfitPrice"]]) {
      const value = this.$(id).value.trim();
      if (value) body[key] = value;
    }
    this.$("cfd-submit").disabled = true;
    try {
      const opened = await api("POST", "/api/cfd/positions", body);
      this.open.set(opened.position.id, opened.position);
      if (opened.balance) this.setBalance(opened.balance);
      this.render();
    } catch (error) {
      this.showError(this.session.failure("CFD order", error));
    } finally {
      this.$("cfd-submit").disabled = false;
    }
  }

  async transfer() {
    if (!this.allowed("transfer")) return;
    const amount = this.$("cfd-transfer").value.trim();
    if (dec(amount) === null || !dec(amount).gt(0)) {
      this.showError("Enter an amount to move from the spot wallet");
      return;
    }
    try {
      const done = await api("POST", "/api/cfd/transfer", { direction: "TO_MARGIN", amount });
      this.setBalance(done.balance);
      this.$("cfd-transfer").value = "";
      this.showError("");
    } catch (error) {
      this.showError(this.session.failure("transfer", error));
    }
  }

  async close(position, button) {
    const refused = this.session.refuse("close request");
    if (refused) {
      this.toast("error", `Close: ${refused}`);
      return;
    }
    button.disabled = true;
    try {
      await api("DELETE", `/api/cfd/positions/${position.id}`);
    } catch (error) {
      button.disabled = false;
      this.toast("error", `Close failed: ${this.session.failure("close request", error)}`);
    }
  }

  onUpdate(m) {
    if (m.event === "PNL") {
      this.onPnl(m);
      return;
    }
    if (m.account?.balance !== undefined) this.setBalance(m.account.balance);
    const p = m.position;
    if (!p) return;
    if (m.event === "OPENED" || m.event === "UPDATED") {
      this.open.set(p.id, { ...this.open.get(p.id), ...p });
    } else if (["CLOSED", "STOP_LOSS", "TAKE_PROFIT", "LIQUIDATED"].includes(m.event)) {
      this.open.delete(p.id);
      this.closed.unshift({ ...p, status: m.event, exitPrice: m.exitPrice, realizedPnl: m.pnl, payout: m.payout });
      const what = { CLOSED: "closed", STOP_LOSS: "stopped out", TAKE_PROFIT: "took profit", LIQUIDATED: "was liquidated" };
      this.toast(m.event === "LIQUIDATED" ? "error" : "ok",
        `${p.direction === "LONG" ? "Long" : "Short"} ${p.symbol} ${what[m.event]} at ${plain(m.exitPrice)} (PnL ${fmt(m.pnl, 2)})`);
    }
    this.render();
  }

  /** Live PnL: longs close at the bid, shorts at the ask. */
  pnl(p) {
    const q = this.quoteOf(p.symbol);
    if (!q) return null;
    const price = new Big(p.direction === "LONG" ? q.bid : q.ask);
    return price.minus(p.entryPrice).times(p.quantity).times(p.direction === "LONG" ? 1 : -1);
  }

  render() {
    const rows = [...this.open.values()].sort((a, b) => b.id - a.id).map((p) => {
      const tr = document.createElement("tr");
      tr.dataset.positionId = String(p.id);
      const q = this.quoteOf(p.symbol);
      const mark = q ? (p.direction === "LONG" ? q.bid : q.ask) : null;
      const pnl = this.pnl(p);
      tr.append(cell(p.symbol), cell(p.direction === "LONG" ? "Long" : "Short", p.direction === "LONG" ? "up" : "down"),
        cell(plain(p.margin), "num"), cell(`${plain(p.leverage)}×`, "num"), cell(plain(p.entryPrice), "num"),
        cell(mark ? plain(mark) : "—", "num"), cell(Number(p.liquidationPrice) ? plain(p.liquidationPrice) : "none", "num liq",
          p.liquidationPrice),
        cell(`${p.stopLossPrice ? plain(p.stopLossPrice) : "—"} / ${p.takeProfitPrice ? plain(p.takeProfitPrice) : "—"}`, "num"),
        cell(pnl === null ? "—" : fmt(pnl, 2), `num pnl ${pnl && pnl.gt(0) ? "up" : pnl && pnl.lt(0) ? "down" : ""}`,
          pnl === null ? "" : pnl.toFixed()));
      const actions = document.createElement("td");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "small danger-outline";
      button.textContent = "Close";
      button.setAttribute("aria-label", `Close CFD position ${p.id}`);
      button.addEventListener("click", () => this.close(p, button));
      actions.append(button);
      tr.append(actions);
      return tr;
    });
    this.$("cfd-open").tBodies[0].replaceChildren(...rows);
    this.$("cfd-open-empty").hidden = rows.length > 0;
    this.$("cfd-count").textContent = String(rows.length);
    const history = this.closed.slice(0, 100).map((p) => {
      const tr = document.createElement("tr");
      tr.dataset.positionId = String(p.id);
      const pnl = dec(p.realizedPnl ?? "");
      tr.append(cell(p.symbol), cell(p.direction === "LONG" ? "Long" : "Short"), cell(plain(p.margin), "num"),
        cell(`${plain(p.leverage)}×`, "num"), cell(plain(p.entryPrice), "num"), cell(plain(p.exitPrice ?? ""), "num"),
        cell(pnl === null ? "—" : fmt(pnl, 2), `num ${pnl && pnl.gt(0) ? "up" : "down"}`, p.realizedPnl ?? ""),
        cell(plain(p.payout ?? "0"), "num"), cell((p.status ?? "").replaceAll("_", " "), "status"));
      return tr;
    });
    this.$("cfd-history").tBodies[0].replaceChildren(...history);
    this.$("cfd-history-empty").hidden = history.length > 0;
  }

  /** The server's live PnL (CFD_UPDATE PNL): mark and PnL cells change, the rows (and buttons) stay. */
  onPnl(m) {
    const byId = new Map(m.positions.map((p) => [p.id, p]));
    for (const tr of this.$("cfd-open").tBodies[0].rows) {
      const live = byId.get(Number(tr.dataset.positionId));
      if (!live) continue;
      const pnl = new Big(live.unrealizedPnl);
      tr.cells[5].textContent = plain(live.markPrice);
      const cellPnl = tr.cells[8];
      cellPnl.textContent = fmt(pnl, 2);
      cellPnl.dataset.value = live.unrealizedPnl;
      cellPnl.className = `num pnl ${pnl.gt(0) ? "up" : pnl.lt(0) ? "down" : ""}`;
    }
  }

  /** On a price tick only the PnL and mark cells change: the rows (and their buttons) stay. */
  onTick(symbol) {
    if (symbol === this.spec.symbol) this.preview();
    for (const tr of this.$("cfd-open").tBodies[0].rows) {
      const p = this.open.get(Number(tr.dataset.positionId));
      if (!p || p.symbol !== symbol) continue;
      const pnl = this.pnl(p);
      const q = this.quoteOf(symbol);
      tr.cells[5].textContent = plain(p.direction === "LONG" ? q.bid : q.ask);
      const cellPnl = tr.cells[8];
      cellPnl.textContent = pnl === null ? "—" : fmt(pnl, 2);
      cellPnl.dataset.value = pnl === null ? "" : pnl.toFixed();
      cellPnl.className = `num pnl ${pnl && pnl.gt(0) ? "up" : pnl && pnl.lt(0) ? "down" : ""}`;
    }
  }
}
