"""SimulatedVenue: EXCHANGE=simulator. Orders match against the PriceFeed's quotes by the rules of
`app/domain/execution.py` (single orders) and `app/domain/oco.py` (OCO lists).

No I/O of its own besides reading order rows: it is atomic, so everything it reports is applied in
the batch's transaction. It keeps the latest quote per symbol and the shard's resting orders (open
orders waiting for a price) in memory, so a tick that reaches no order costs no database work.

The book is the PriceFeed's (one per symbol, published on each tick). Between two ticks the shard
remembers what its own fills took (`pending`) and takes it off the published book itself, so two
orders in a row walk deeper than one; it forgets a fill once a tick says the book took it in
(`PriceTick.folded`), or after `PENDING_MS`. A tick without a book (an older feed, a test's scripted
tick) gets synthetic depth around its bid/ask, which nothing consumes.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

from app.clock import now_ms
from app.domain import book, execution, oco
from app.domain.book import Level, Quote
from app.domain.execution import Fees, OrderView, Outcome
from app.domain.ledger import House
from app.domain.orders import CANCELABLE, OPEN, OrderStatus, OrderType, Side
from app.domain.symbols import SymbolSpec
from app.execution.venue import Engine
from app.messages import CancelOrder, PriceTick, SubmitOrder
from app.persistence.orders import legs_of, order_by_id, order_view, resting_orders

if TYPE_CHECKING:
    from app.persistence.models import Order

REJECT_DEAD_LETTER = "internal error while executing; the order was not executed"
PENDING_MS = 10_000  # a fill the feed has not confirmed by then is forgotten (its announcement was lost)


class SimulatedVenue:
    market_data = True
    atomic = True
    timer_s: float | None = None

    def __init__(self, specs: dict[str, SymbolSpec], fees: Fees, house: House, shard: int,
                 shards: int) -> None:
        self.specs = specs
        self.fees = fees
        self.house = house
        self.shard, self.shards = shard, shards
        self.quotes: dict[str, Quote] = {}
        self.resting: dict[int, OrderView] = {}  # the shard's open orders that wait for a price, by id
        # symbol -> fill key -> (taker side, price, qty, ms): this shard's fills the book has not taken in yet
        self.pending: dict[str, dict[str, tuple[Side, Decimal, Decimal, int]]] = {}

    def start(self, ticks: list[PriceTick]) -> None:
        self.reset()
        for tick in ticks:
            self.quotes[tick.symbol] = _quote(tick)

    def reset(self) -> None:
        self.resting = {r.id: order_view(r) for r in resting_orders(self.shard, self.shards)}
        self.pending.clear()  # after a rollback, some of them never happened

    # --- commands ----------------------------------------------------------------------------------
    def submit(self, row: Order, engine: Engine) -> bool:
        view = order_view(row)
        spec = self.specs[view.symbol]
        if view.order_list_id is not None:
            return self._submit_list(row, engine)
        if view.status is not OrderStatus.PENDING:
            return True  # already executed (a redelivery) or canceled before it ran
        outcome = execution.place(view, self.quotes.get(view.symbol), spec, engine.free(view.user_id),
                                  self.fees, self.house)
        self._report(row, view, outcome, engine)
        return True

    def _submit_list(self, row: Order, engine: Engine) -> bool:
        """OCO: both legs are placed together, from the reservation the first one holds."""
        rows = legs_of(row)
        if len(rows) != 2 or any(r.status != OrderStatus.PENDING.value for r in rows):
            return True  # placed already (a redelivery)
        first, second = (order_view(r) for r in rows)
        outcomes = oco.place(first, second, self.quotes.get(first.symbol), self.specs[first.symbol],
                             engine.free(first.user_id))
        for leg, outcome in zip(rows, outcomes, strict=True):
            engine.order(leg, outcome)
        return True

    def cancel(self, row: Order, engine: Engine) -> bool:
        """Cancel the order, or every leg of its list that is still cancelable (canceling either cancels both)."""
        for leg in legs_of(row):
            view = order_view(leg)
            if view.status in CANCELABLE:  # filled or canceled meanwhile: nothing to release, exactly once
                engine.order(leg, execution.cancel(view, self.specs[view.symbol]))
        return True

    # --- quotes ------------------------------------------------------------------------------------
    def quiet_quote(self, tick: PriceTick) -> bool:
        if self._reacting(tick.symbol, self._view(tick)):
            return False
        self._accept(tick)
        return True

    def on_quote(self, tick: PriceTick, engine: Engine) -> None:
        quote = self._accept(tick)
        if quote is None:
            return
        for order in sorted(self._reacting(tick.symbol, quote), key=lambda o: o.id):
            row = order_by_id(order.id)
            if row is None:
                continue
            view = order_view(row)
            spec = self.specs[view.symbol]
            free = engine.free(view.user_id)
            if view.order_list_id is not None:
                legs = {r.id: r for r in legs_of(row)}
                sibling = next((order_view(r) for i, r in legs.items() if i != view.id), None)
                if sibling is not None:
                    for leg, outcome in oco.on_quote(view, sibling, self.quotes[view.symbol], spec, self.fees,
                                                     self.house, free):
                        self._report(legs[leg.id], leg, outcome, engine)
                    continue
            outcome = execution.on_quote(view, self.quotes[view.symbol], spec, self.fees, self.house, free)
            if outcome is not None:
                self._report(row, view, outcome, engine)

    def _accept(self, tick: PriceTick) -> Quote | None:
        """Make `tick` the symbol's quote; None for an older tick, which never moves the market back."""
        previous = self.quotes.get(tick.symbol)
        if previous is not None and previous.ts > tick.ts:
            return None
        pending = self.pending.get(tick.symbol)
        if pending:
            for key in tick.folded:
                pending.pop(key, None)
            expired = now_ms() - PENDING_MS
            for key in [k for k, (_, _, _, at) in pending.items() if at < expired]:
                del pending[key]
        quote = self.quotes[tick.symbol] = self._view(tick)
        return quote

    def _view(self, tick: PriceTick) -> Quote:
        """The tick's quote with its published book less this shard's fills the book has not taken in."""
        quote = _quote(tick)
        pending = self.pending.get(tick.symbol)
        if not pending or not (quote.bids or quote.asks):
            return quote
        folded = set(tick.folded)
        for key, (side, price, qty, _) in pending.items():
            if key not in folded:
                quote = _taken(quote, side, price, qty)
        return quote

    def _report(self, row: Order, view: OrderView, outcome: Outcome, engine: Engine) -> None:
        """Report an outcome; its fills take liquidity off this shard's view of the book until the feed confirms."""
        engine.order(row, outcome)
        quote = self.quotes.get(view.symbol)
        if not outcome.fills or quote is None or not (quote.bids or quote.asks):
            return
        pending = self.pending.setdefault(view.symbol, {})
        at = now_ms()
        for fill in outcome.fills:
            pending[f"{view.id}:{fill.seq}"] = (view.side, fill.price, fill.qty, at)
            quote = _taken(quote, view.side, fill.price, fill.qty)
        self.quotes[view.symbol] = quote

    def _reacting(self, symbol: str, quote: Quote) -> list[OrderView]:
        """The resting orders this quote changes: limits it crosses, triggers it fires or trails."""
        return [o for o in self.resting.values() if o.symbol == symbol and execution.reacts_to(o, quote)]

    # --- the rest of the port ----------------------------------------------------------------------
    def track(self, row: Order) -> None:
        if row.status in _RESTING and row.type != OrderType.MARKET.value:
            self.resting[row.id] = order_view(row)
        else:
            self.resting.pop(row.id, None)

    def reconcile(self, engine: Engine) -> None:
        """Nothing to follow: the simulator's outcomes are final when reported."""

    def give_up(self, msg: SubmitOrder | CancelOrder) -> str | None:
        return REJECT_DEAD_LETTER  # the funds it reserved must be released

    def close(self) -> None:
        """No connections."""


_RESTING = frozenset(s.value for s in OPEN)


def _quote(tick: PriceTick) -> Quote:
    return Quote(tick.bid, tick.ask, tick.ts, tick.price, tuple(Level(p, q) for p, q in tick.bids),
                 tuple(Level(p, q) for p, q in tick.asks))


def _taken(quote: Quote, side: Side, price: Decimal, qty: Decimal) -> Quote:
    """`quote` once a taker on `side` took `qty` at `price` or better (the rule the PriceFeed folds fills by)."""
    if side is Side.BUY:
        asks, _ = book.take(quote.asks, side, price, qty)
        return replace(quote, asks=asks, ask=asks[0].price if asks else quote.ask)
    bids, _ = book.take(quote.bids, side, price, qty)
    return replace(quote, bids=bids, bid=bids[0].price if bids else quote.bid)
