// The watchlist in the top bar: every market with its last price and 24 h change, and a search box
// that filters them (`/` focuses it, Enter opens the first match, ArrowDown walks the matches).
// Prices are live from the WebSocket: the terminal already subscribes every symbol's ticks (marks
// for the positions), so PRICE_UPDATE brings them all at no extra cost. The 24 h reference (the
// open 24 h ago) is only in /api/market/ticker and drifts slowly: it is polled once a minute, and
// the change is recomputed from it on every tick, with big.js.
import { api } from "./api.js";
import { typing } from "./layout.js";
import { dec, decimalsOf, fmt } from "./num.js";

export class Watchlist {
  constructor({ nav, search, empty }) {
    this.search = search;
    this.empty = empty;
    this.rows = new Map([...nav.querySelectorAll("a[data-symbol]")].map((a) => [a.dataset.symbol, {
      link: a, price: a.querySelector(".wl-price"), change: a.querySelector(".wl-change"), open: null, dp: null,
    }]));
    search.addEventListener("input", () => this.filter());
    search.addEventListener("keydown", (event) => {
      const first = this.matches()[0];
      if (event.key === "Enter" && first) {
        event.preventDefault();
        window.location.assign(first.link.href);
      } else if (event.key === "ArrowDown" && first) {
        event.preventDefault();
        first.link.focus();
      }
    });
    nav.addEventListener("keydown", (event) => {
      if (!event.target.matches("a[data-symbol]") || !["ArrowDown", "ArrowUp"].includes(event.key)) return;
      event.preventDefault();
      const links = this.matches().map((r) => r.link);
      const at = links.indexOf(event.target) + (event.key === "ArrowDown" ? 1 : -1);
      (at < 0 ? search : links[Math.min(at, links.length - 1)]).focus();
    });
    document.addEventListener("keydown", (event) => {
      if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
      if (document.querySelector("dialog[open]")) return;
      event.preventDefault();
      search.focus();
      search.select();
    });
  }

  matches() {
    return [...this.rows.values()].filter((r) => !r.link.hidden);
  }

  filter() {
    const text = this.search.value.trim().toUpperCase().replace(/[^A-Z0-9]/g, "");
    for (const [symbol, row] of this.rows) row.link.hidden = !symbol.includes(text);
    this.empty.hidden = this.matches().length > 0;
  }

  /** Each market's tick size (for its price's decimals), once. */
  async loadSymbols() {
    const { symbols } = await api("GET", "/api/market/symbols");
    for (const s of symbols) {
      const row = this.rows.get(s.symbol);
      const tick = s.filters.find((f) => f.filterType === "PRICE_FILTER")?.tickSize;
      if (row && tick) row.dp = decimalsOf(tick);
    }
  }

  /** Every market's ticker (/api/market/ticker): the 24 h open, and the price unless a tick is newer. */
  onTickers(tickers) {
    for (const t of tickers) {
      const row = this.rows.get(t.symbol);
      if (!row) continue;
      row.open = t.open24h;
      this.onTick(t);
      this.draw(row);
    }
  }

  onTick(tick) {
    const row = this.rows.get(tick.symbol);
    if (!row || (row.ts ?? 0) > (tick.ts ?? 0)) return;  // older than the price shown
    row.ts = tick.ts;
    row.last = tick.price;
    this.draw(row);
  }

  draw(row) {
    if (row.last === undefined) return;
    row.price.textContent = row.dp === null ? row.last : fmt(row.last, row.dp);
    row.price.dataset.value = row.last;
    const price = dec(row.last);
    const open = dec(row.open ?? "");
    if (!open || !open.gt(0) || !price) return;
    const pct = price.minus(open).div(open).times(100);
    row.change.textContent = `${pct.gte(0) ? "+" : ""}${fmt(pct, 2)}%`;
    row.change.dataset.value = pct.round(2, 2).toFixed(2);
    row.change.dataset.move = pct.gte(0) ? "up" : "down";
  }
}
