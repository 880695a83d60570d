// The order form: side, type, price that follows the market until typed, amount in base or quote,
// the available balance and an estimate, and the API's errors shown inline.
import { api } from "./api.js";
import { readFields, writeFields } from "./fields.js";
import { Big, dec, decimalsOf, fmt, plain } from "./num.js";

// ---- orders: presets, post-only and the confirmation threshold ----
const CONFIRM_KEY = "troupe-confirm-above";  // the notional (quote) above which an order asks first

/** `pct` % of `free`, as a base quantity rounded down to `step` (buying: at `price`). Exact; null if none. */
export function presetQuantity(free, pct, step, price) {
  const f = dec(free ?? "");
  if (f === null || !f.gt(0)) return null;
  let amount = f.times(pct).div(100);
  if (price !== null) {
    if (!price.gt(0)) return null;
    amount = amount.div(price);
  }
  const s = new Big(step);
  const qty = amount.div(s).round(0, Big.roundDown).times(s);
  return qty.gt(0) ? qty : null;
}

// The controls whose meaning depends on the order type (the price box is a limit price, a stop's
// optional limit price or an OCO's take-profit). Each type keeps its own values: a typed limit
// price must never reappear as a stop's limit price and turn a stop-market into a stop-limit.
const TYPE_FIELDS = ["price", "stop-price", "stop-limit", "trailing", "trigger-kind", "tif", "post-only"];
// Everything the trader typed, as kept across a sign-in.
const DRAFT_FIELDS = ["side-buy", "side-sell", "type-market", "type-limit", "type-stop", "type-oco", ...TYPE_FIELDS,
  "amount", "amount-unit"];

export class OrderForm {
  /** `session` (session.js) refuses an order once the sign-in has ended. */
  constructor({ form, spec, balanceOf, toast, session }) {
    this.form = form;
    this.spec = spec;
    this.balanceOf = balanceOf;
    this.toast = toast;
    this.session = session;
    this.tick = null;
    this.priceDirty = false;
    this.el = (id) => form.querySelector(`#${id}`);
    this.price = this.el("price");
    this.stopPrice = this.el("stop-price");
    this.trailing = this.el("trailing");
    this.kind = this.el("trigger-kind");
    this.stopLimit = this.el("stop-limit");
    this.amount = this.el("amount");
    this.unit = this.el("amount-unit");
    this.error = this.el("order-error");
    this.submitButton = this.el("submit-order");
    this.priceDp = decimalsOf(spec.tickSize);
    this.blank = readFields(form, TYPE_FIELDS);
    this.byType = new Map();
    this.lastType = this.type;

    form.addEventListener("change", () => this.update());
    form.addEventListener("input", (event) => {
      if (event.target === this.price) this.priceDirty = this.price.value.trim() !== "";
      this.clearError();
      this.update();
    });
    this.el("reset-price").addEventListener("click", () => this.resetPrice());
    for (const button of form.querySelectorAll("button[data-pct]")) {
      button.addEventListener("click", () => this.fillPercent(Number(button.dataset.pct)));
    }
    this.confirmAbove = this.el("confirm-above");
    this.confirmAbove.value = localStorage.getItem(CONFIRM_KEY) ?? "";
    this.confirmAbove.addEventListener("change", () => {
      const value = this.confirmAbove.value.trim();
      if (value === "" || (dec(value) !== null && dec(value).gt(0))) localStorage.setItem(CONFIRM_KEY, value);
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.update();
  }

  get side() { return this.form.querySelector('input[name="side"]:checked').value; }
  get type() { return this.form.querySelector('input[name="type"]:checked').value; }

  setSide(side) {
    this.el(side === "BUY" ? "side-buy" : "side-sell").checked = true;
    this.update();
    this.amount.focus();
  }

  setType(type) {
    this.el({ LIMIT: "type-limit", STOP: "type-stop", OCO: "type-oco" }[type] ?? "type-market").checked = true;
    this.update();
    if (type === "LIMIT") this.price.focus();
  }

  onTick(tick) {
    this.tick = tick;
    if (!this.priceDirty && this.type === "LIMIT") this.price.value = plain(tick.price);
    this.update();
  }

  resetPrice() {
    this.priceDirty = false;
    if (this.tick) this.price.value = plain(this.tick.price);
    this.clearError();
    this.update();
    this.price.focus();
  }

  /** What the trader typed, to give back after a sign-in. */
  draft() {
    return { fields: readFields(this.form, DRAFT_FIELDS), priceDirty: this.priceDirty };
  }

  restore(draft) {
    writeFields(this.form, draft?.fields);
    this.lastType = this.type;  // the restored fields are this type's own
    this.priceDirty = draft?.priceDirty === true;
    this.update();
  }

  /** Put away the fields of the type left and bring back those of the type chosen (blank at first). */
  switchType(from, to) {
    this.byType.set(from, { values: readFields(this.form, TYPE_FIELDS), priceDirty: this.priceDirty });
    const kept = this.byType.get(to);
    writeFields(this.form, kept?.values ?? this.blank);
    this.priceDirty = kept?.priceDirty ?? false;
    if (to === "LIMIT" && !this.priceDirty && this.tick) this.price.value = plain(this.tick.price);
    this.lastType = to;
    this.clearError();  // an error belongs to the fields it was shown on
  }

  /** The price an estimate uses: the typed limit, or the side of the book a market order meets. */
  referencePrice() {
    if (this.type === "LIMIT") return dec(this.price.value);
    if (this.type === "STOP") return dec(this.price.value) ?? dec(this.stopPrice.value);
    if (this.type === "OCO") return dec(this.price.value);
    if (!this.tick) return null;
    return dec(this.side === "BUY" ? this.tick.ask : this.tick.bid);
  }

  update() {
    const type = this.type;
    const limit = type === "LIMIT";
    const oco = type === "OCO";
    const stop = type === "STOP" || oco;
    const buy = this.side === "BUY";
    if (type !== this.lastType) this.switchType(this.lastType, type);
    this.el("stop-row").hidden = !stop;
    this.el("trigger-row").hidden = oco;
    this.el("stop-limit-row").hidden = !oco;
    this.el("stop-hint").hidden = oco;
    this.el("oco-hint").hidden = !oco;
    this.el("price-row").hidden = !(limit || stop);
    const q = this.spec.quote;
    this.el("price-label").textContent = oco ? `Take-profit price (${q})` : stop ? `Limit price (${q}, optional)`
      : `Price (${q})`;
    this.el("price-hint").hidden = stop;
    this.el("reset-price").hidden = stop;
    const postOnly = limit && this.el("post-only").checked;
    this.el("post-only-row").hidden = !limit;
    this.el("tif-row").hidden = postOnly || !(limit || (type === "STOP" && this.price.value.trim() !== ""));
    if (!(type === "MARKET") && this.unit.value === "quote") this.unit.value = "base";
    this.unit.querySelector('option[value="quote"]').disabled = type !== "MARKET";
    const { base, quote } = this.spec;
    this.submitButton.textContent = `${buy ? "Buy" : "Sell"} ${base}`;
    this.submitButton.classList.toggle("buy", buy);
    this.submitButton.classList.toggle("sell", !buy);

    const asset = buy ? quote : base;
    const free = this.balanceOf(asset);
    const available = this.el("available");
    available.textContent = free === null ? "—" : `${plain(free)} ${asset}`;
    available.dataset.value = free ?? "";

    const amount = dec(this.amount.value);
    const price = this.referencePrice();
    const estimate = this.el("estimate");
    const approx = limit || oco || (stop && this.price.value.trim() !== "") ? "" : "≈ ";
    let text = "—";
    let value = "";
    if (amount !== null && amount.gt(0)) {
      if (this.unit.value === "quote") {
        this.el("estimate-label").textContent = buy ? "Estimated amount" : "Estimated to sell";
        if (price !== null && price.gt(0)) {
          const qty = amount.div(price);
          value = qty.toFixed();
          text = `${approx}${fmt(qty, decimalsOf(this.spec.stepSize))} ${base}`;
        }
      } else {
        this.el("estimate-label").textContent = buy ? "Estimated cost" : "Estimated proceeds";
        if (price !== null && price.gt(0)) {
          const total = amount.times(price);
          value = total.toFixed();
          text = `${approx}${fmt(total, 2)} ${quote}`;
        }
      }
    }
    estimate.textContent = text;
    estimate.dataset.value = value;
  }

  clearError() {
    this.error.hidden = true;
    this.error.textContent = "";
    for (const input of this.form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  }

  showError(message, field) {
    this.error.textContent = message;
    this.error.hidden = false;
    const input = { price: this.price, quantity: this.amount, quoteOrderQty: this.amount, amount: this.amount,
      stopPrice: this.stopPrice, trailingDelta: this.trailing, stopLimitPrice: this.stopLimit }[field];
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", "order-error");
    }
  }

  body() {
    const amount = this.amount.value.trim();
    if (dec(amount) === null || !dec(amount).gt(0)) return [null, "Enter an amount greater than zero", "amount"];
    const body = { symbol: this.spec.symbol, side: this.side, type: this.type,
      clientOrderId: "web-" + crypto.randomUUID().replaceAll("-", "") };
    if (this.unit.value === "quote") body.quoteOrderQty = amount; else body.quantity = amount;
    if (this.type === "STOP") return this.stopBody(body);
    if (this.type === "OCO") return this.ocoBody(body);
    if (this.type === "LIMIT") {
      const price = this.price.value.trim();
      if (dec(price) === null || !dec(price).gt(0)) return [null, "Enter a limit price greater than zero", "price"];
      body.price = price;
      if (this.el("post-only").checked) body.type = "LIMIT_MAKER";  // refused rather than take liquidity
      else body.timeInForce = this.el("tif").value;
    }
    return [body, null, null];
  }

  /** STOP_LOSS / TAKE_PROFIT, or their _LIMIT forms when a limit price is given. */
  stopBody(body) {
    const stopPrice = this.stopPrice.value.trim();
    const trailing = this.trailing.value.trim();
    if (!stopPrice && !trailing) return [null, "Enter a stop price, a trailing delta, or both", "stopPrice"];
    if (stopPrice) {
      if (dec(stopPrice) === null || !dec(stopPrice).gt(0)) return [null, "Enter a stop price greater than zero", "stopPrice"];
      body.stopPrice = stopPrice;
    }
    if (trailing) {
      if (!/^\d{1,6}$/.test(trailing)) return [null, "The trailing delta is a whole number of basis points", "trailingDelta"];
      body.trailingDelta = Number(trailing);  // an integer count of basis points, not money
    }
    const price = this.price.value.trim();
    body.type = this.kind.value + (price ? "_LIMIT" : "");
    if (price) {
      if (dec(price) === null || !dec(price).gt(0)) return [null, "Enter a limit price greater than zero", "price"];
      body.price = price;
      body.timeInForce = this.el("tif").value;
    }
    return [body, null, null];
  }

  /** An OCO list: a take-profit limit at `price` and a stop-loss at `stopPrice` on one quantity. */
  ocoBody(body) {
    const [stop, problem, field] = this.stopBody({ ...body });
    if (stop === null) return [null, problem, field];
    const price = this.price.value.trim();
    if (dec(price) === null || !dec(price).gt(0)) return [null, "Enter the take-profit price", "price"];
    const oco = { symbol: body.symbol, side: body.side, quantity: body.quantity, price,
      listClientOrderId: "web" + crypto.randomUUID().replaceAll("-", "").slice(0, 24) };
    if (stop.stopPrice) oco.stopPrice = stop.stopPrice;
    if (stop.trailingDelta) oco.trailingDelta = stop.trailingDelta;
    const stopLimit = this.stopLimit.value.trim();
    if (stopLimit) {
      if (dec(stopLimit) === null || !dec(stopLimit).gt(0)) return [null, "Enter a stop limit price greater than zero", "stopLimitPrice"];
      oco.stopLimitPrice = stopLimit;
      oco.stopLimitTimeInForce = "GTC";
    }
    return [oco, null, null];
  }

  async submit() {
    this.clearError();
    const refused = this.session.refuse("order");
    if (refused) {
      this.showError(refused, null);
      return;
    }
    const [body, problem, field] = this.body();
    if (body === null) {
      this.showError(problem, field);
      return;
    }
    if (!await this.confirmed(body)) return;
    this.submitButton.disabled = true;
    try {
      if (this.type === "OCO") {
        const list = await api("POST", "/api/trading/orderList/oco", body);
        for (const leg of list.orders) {
          this.form.dispatchEvent(new CustomEvent("placed", { detail: { symbol: body.symbol, side: body.side,
            origQty: body.quantity, ...leg, orderType: leg.type, orderListId: list.orderListId } }));
        }
        return;
      }
      const placed = await api("POST", "/api/trading/orders", body);
      this.form.dispatchEvent(new CustomEvent("placed", { detail: { ...body, ...placed, orderType: body.type } }));
    } catch (error) {
      this.showError(this.session.failure("order", error), error.field);
    } finally {
      this.submitButton.disabled = false;
    }
  }

  // ---- orders: presets and the confirmation ----
  /** Fill the amount with `pct` % of what is available: the base to sell, or the quote to spend at the
   * reference price (the limit price, else the ask), rounded down to the step size. */
  fillPercent(pct) {
    const buy = this.side === "BUY";
    const asset = buy ? this.spec.quote : this.spec.base;
    const price = buy ? this.referencePrice() : null;
    const hint = this.el("pct-hint");
    if (buy && price === null) {
      hint.textContent = "Enter a price first (or wait for the market's)";
      return;
    }
    const qty = presetQuantity(this.balanceOf(asset), pct, this.spec.stepSize, price);
    if (qty === null) {
      hint.textContent = `Nothing available in ${asset}`;
      return;
    }
    this.unit.value = "base";
    this.amount.value = plain(qty);
    hint.textContent = `${pct} % of ${plain(this.balanceOf(asset))} ${asset}${buy ? ` at ${plain(price)}` : ""}, `
      + `rounded down to the ${plain(this.spec.stepSize)} step`;
    this.clearError();
    this.update();
  }

  /** The order's notional in the quote asset, when it can be known. */
  notional(body) {
    if (body.quoteOrderQty) return dec(body.quoteOrderQty);
    const qty = dec(body.quantity ?? "");
    const price = dec(body.price ?? "") ?? dec(body.stopPrice ?? "") ?? this.referencePrice();
    return qty === null || price === null ? null : qty.times(price);
  }

  /** Above the trader's threshold, ask first (a dialog); true: place it. */
  confirmed(body) {
    const limit = dec(localStorage.getItem(CONFIRM_KEY) ?? "");
    const notional = this.notional(body);
    if (limit === null || notional === null || !notional.gt(limit)) return Promise.resolve(true);
    const dialog = document.getElementById("confirm-order");
    dialog.querySelector("#confirm-text").textContent = `${body.side === "BUY" ? "Buy" : "Sell"} `
      + `${plain(body.quantity ?? "")} ${this.spec.base} for about ${fmt(notional, 2)} ${this.spec.quote}: `
      + `above your confirmation threshold of ${plain(limit)} ${this.spec.quote}.`;
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "place"), { once: true });
      dialog.showModal();
    });
  }
}
