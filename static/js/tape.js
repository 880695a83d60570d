// The trade tape: the last KEEP prints, newest first, from /api/market/trades and then TRADE
// frames; prints are merged by their tape id, so a frame that overlaps the loaded page counts once,
// and after each (re)connect the API's tape replaces what the page had.
// A buy (the taker bought) is green with ▲ and says "Buy", a sell red with ▼: never colour alone.
import { cell, time } from "./tables.js";
import { decimalsOf, fmt } from "./num.js";

export const KEEP = 50;

export class TradeTape {
  constructor({ tbody, spec }) {
    this.tbody = tbody;
    this.priceDp = decimalsOf(spec.tickSize);
    this.sizeDp = decimalsOf(spec.stepSize);
    this.prints = [];  // newest first
    this.pending = false;
  }

  /** Prints in any order (the API's oldest first, a frame's batch); duplicates are dropped by id. */
  add(prints) {
    const known = new Set(this.prints.map((p) => p.id));
    const fresh = prints.filter((p) => !known.has(p.id));
    if (!fresh.length) return;
    this.prints = [...this.prints, ...fresh].sort((a, b) => b.id - a.id).slice(0, KEEP);
    this.schedule();
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  /** The tape as the API has it now (after a reconnect: the server's ids may have been reused by prints
   * the page saw before a crash), keeping only frames newer than its newest print. */
  resync(prints) {
    const newest = Math.max(-1, ...prints.map((p) => p.id));
    const later = this.prints.filter((p) => p.id > newest);
    this.prints = [];
    this.add([...prints, ...later]);
    this.schedule();  // drawn even when nothing is left
  }

  draw() {
    this.tbody.replaceChildren(...this.prints.map((p) => {
      const buy = !p.isBuyerMaker;  // the buyer took the offer: a buy print
      const row = document.createElement("tr");
      row.dataset.id = String(p.id);
      row.dataset.side = buy ? "BUY" : "SELL";
      row.dataset.price = p.price;
      row.dataset.qty = p.qty;
      const price = cell("", { num: true, cls: buy ? "up" : "down" });
      const arrow = document.createElement("span");
      arrow.setAttribute("aria-hidden", "true");
      arrow.textContent = buy ? "▲ " : "▼ ";
      const side = document.createElement("span");
      side.className = "sr-only";
      side.textContent = buy ? "Buy " : "Sell ";
      price.append(arrow, side, fmt(p.price, this.priceDp));
      row.append(cell(time(p.time), { cls: "time" }), price, cell(fmt(p.qty, this.sizeDp), { num: true }));
      return row;
    }));
  }
}
