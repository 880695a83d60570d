// The order book panel: DEPTH levels a side from /api/market/depth, then live from BOOK_UPDATE
// frames (a frame whose last update id `u` is not above the shown one is stale: dropped), with
// cumulative size bars and the spread. Each level is a button (its label says what it holds)
// that hands its price to `onPick`; one tab stop for the book, arrow keys move between levels.
// Amounts stay strings / big.js; only the bars' widths are display numbers.
import { Big, dec, decimalsOf, fmt } from "./num.js";

export const DEPTH = 20;

export class OrderBook {
  constructor({ root, spec, onPick }) {
    this.root = root;
    this.spec = spec;
    this.onPick = onPick;
    this.priceDp = decimalsOf(spec.tickSize);
    this.sizeDp = decimalsOf(spec.stepSize);
    this.lastId = -1;
    this.book = null;
    this.pending = false;
    this.asks = this.levels(root.querySelector(".book-asks"), "Ask");
    this.bids = this.levels(root.querySelector(".book-bids"), "Bid");
    this.spreadAbs = root.querySelector(".spread-abs");
    this.spreadBps = root.querySelector(".spread-bps");
    this.asks[0].tabIndex = 0;
    root.addEventListener("keydown", (event) => this.onKey(event));
  }

  /** DEPTH buttons kept for good and updated in place, so focus and a click in progress survive updates. */
  levels(container, side) {
    const buttons = [];
    for (let i = 0; i < DEPTH; i++) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "level";
      button.tabIndex = -1;
      button.hidden = true;
      button.dataset.side = side.toUpperCase();
      // The name comes from the content (what a screen reader says is what is seen, WCAG 2.5.3): the
      // three visible cells, joined into a sentence by words only assistive technology reads.
      const span = (cls) => Object.assign(document.createElement("span"), { className: cls });
      button.append(span("sr-only said-side"), span("price"), span("sr-only said-quote"), span("size"),
        span("sr-only said-base"), span("total"), span("sr-only said-end"));
      button.addEventListener("click", () => this.onPick(button.dataset.price));
      container.append(button);
      buttons.push(button);
    }
    return buttons;
  }

  /** A book from the REST depth ({lastUpdateId, bids, asks}) or a BOOK_UPDATE frame ({u, bids, asks}). */
  apply(book) {
    const id = book.u ?? book.lastUpdateId;
    if (id <= this.lastId) return;  // stale: an older book than the one shown
    this.lastId = id;
    this.book = book;
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  /** After a reconnect the server's first frame is the current book, whatever its id. */
  reset() {
    this.lastId = -1;
  }

  draw() {
    const { bids, asks } = this.book;
    const totals = (levels) => {
      let sum = new Big(0);
      return levels.slice(0, DEPTH).map(([, qty]) => (sum = sum.plus(qty)));
    };
    const askTotals = totals(asks);
    const bidTotals = totals(bids);
    const most = [askTotals.at(-1), bidTotals.at(-1)].filter(Boolean).reduce((a, b) => (a.gt(b) ? a : b), new Big(0));
    this.drawSide(this.asks, asks, askTotals, most);
    this.drawSide(this.bids, bids, bidTotals, most);
    this.root.dataset.updateId = String(this.lastId);
    const all = [...this.asks, ...this.bids];
    if (!all.some((b) => b.tabIndex === 0 && !b.hidden)) {  // the tab stop's level went: the best one takes it
      const first = all.find((b) => !b.hidden);
      for (const b of all) b.tabIndex = b === first ? 0 : -1;
    }
    const ask = dec(asks[0]?.[0] ?? "");
    const bid = dec(bids[0]?.[0] ?? "");
    if (ask && bid) {
      const spread = ask.minus(bid);
      const bps = spread.div(ask.plus(bid).div(2)).times(10000);
      this.spreadAbs.textContent = fmt(spread, this.priceDp);
      this.spreadAbs.dataset.value = spread.toFixed();
      this.spreadBps.textContent = `${fmt(bps, 2)} bps`;
      this.spreadBps.dataset.value = bps.toFixed();
    } else {
      this.spreadAbs.textContent = "—";
      this.spreadBps.textContent = "";
    }
  }

  drawSide(buttons, levels, totals, most) {
    const { base, quote } = this.spec;
    buttons.forEach((button, i) => {
      const level = levels[i];
      button.hidden = !level;
      if (!level) return;
      const [price, qty] = level;
      const cell = (cls) => button.querySelector(`.${cls}`);
      cell("price").textContent = fmt(price, this.priceDp);
      cell("size").textContent = fmt(qty, this.sizeDp);
      cell("total").textContent = fmt(totals[i], this.sizeDp);
      button.dataset.price = price;
      button.dataset.qty = qty;
      button.dataset.total = totals[i].toFixed();
      cell("said-side").textContent = button.dataset.side === "ASK" ? "Ask " : "Bid ";
      cell("said-quote").textContent = ` ${quote}, `;
      cell("said-base").textContent = ` ${base} (`;
      cell("said-end").textContent = ` ${base} to here): use as the limit price`;
      const share = most.gt(0) ? Number(totals[i].div(most).times(100).toFixed(2)) : 0;  // display only
      button.style.setProperty("--depth", `${share}%`);
    });
  }

  /** The levels in the order they are seen: asks from the worst down to the best, then bids best first. */
  visual() {
    return [...this.asks].reverse().concat(this.bids).filter((b) => !b.hidden);
  }

  onKey(event) {
    const moves = { ArrowUp: -1, ArrowDown: 1, Home: -Infinity, End: Infinity };
    if (!(event.key in moves) || !event.target.classList.contains("level")) return;
    event.preventDefault();
    const order = this.visual();
    const at = order.indexOf(event.target);
    const next = order[Math.max(0, Math.min(order.length - 1, at + moves[event.key]))] ?? event.target;
    for (const b of [...this.asks, ...this.bids]) b.tabIndex = b === next ? 0 : -1;
    next.focus();
  }
}
