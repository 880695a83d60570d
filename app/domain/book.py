"""The market's order book, as pure values: synthetic depth around a quote, the walk through it,
and `MarketBook`, one symbol's book as its single writer (the PriceFeed) keeps it: liquidity that
fills consume and that refills over time, each change numbered by an increasing update id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from app.domain.orders import Side
from app.domain.symbols import SymbolSpec
from app.money import ZERO, floor_to_step

LEVELS = 25
LEVEL_GAP = Decimal("0.0001")  # one basis point between levels
DEPTH = 20  # levels per side the market publishes (as Binance's partial-depth stream)


@dataclass(frozen=True, slots=True)
class Level:
    price: Decimal
    qty: Decimal


@dataclass(frozen=True, slots=True)
class Quote:
    bid: Decimal
    ask: Decimal
    ts: int  # ms, from the price feed
    last: Decimal | None = None  # the last trade price; triggers use it
    # The published book, best first (empty: none was published; synthetic depth around bid/ask instead).
    bids: tuple[Level, ...] = ()
    asks: tuple[Level, ...] = ()

    @property
    def last_price(self) -> Decimal:
        return self.last if self.last is not None else (self.bid + self.ask) / 2


@dataclass(frozen=True, slots=True)
class Fill:
    price: Decimal
    qty: Decimal

    @property
    def quote_qty(self) -> Decimal:
        return self.price * self.qty


def levels(quote: Quote, spec: SymbolSpec, side: Side) -> Iterator[Level]:
    """The levels a taker on `side` trades against, best first: asks for BUY, bids for SELL.

    The quote's published book when it has one; otherwise synthetic depth, where level i sits i
    basis points away from the touch and holds (1 + i/2) × level_qty, so large orders walk the
    book and pay a realistic slippage. Lazy: most orders need only the first.
    """
    if quote.bids or quote.asks:
        yield from quote.asks if side is Side.BUY else quote.bids
        return
    yield from synthetic(quote.bid, quote.ask, spec, side)


def synthetic(bid: Decimal, ask: Decimal, spec: SymbolSpec, side: Side) -> Iterator[Level]:
    """Synthetic depth around bid/ask (see `levels`): the simulator's book before any fill touches it."""
    for i in range(LEVELS):
        size = floor_to_step(spec.level_qty * (1 + Decimal(i) / 2), spec.step_size)
        if side is Side.BUY:
            raw = ask * (1 + LEVEL_GAP * i)
            price = (raw / spec.tick_size).to_integral_value(ROUND_CEILING) * spec.tick_size
        else:
            raw = bid * (1 - LEVEL_GAP * i)
            price = (raw / spec.tick_size).to_integral_value(ROUND_FLOOR) * spec.tick_size
            if price <= 0:
                return
        yield Level(price, size)


def walk(book: Iterable[Level], spec: SymbolSpec, side: Side, *, qty: Decimal | None = None,
         quote_qty: Decimal | None = None, limit: Decimal | None = None) -> list[Fill]:
    """Take liquidity level by level until `qty` (base) or `quote_qty` is used up.

    `limit` stops the walk at levels worse than the limit price. Quantities bought with a
    quote amount round down to stepSize, so the quote spent never exceeds `quote_qty`.
    """
    fills: list[Fill] = []
    left_qty = qty
    left_quote = quote_qty
    for level in book:
        if limit is not None and (level.price > limit if side is Side.BUY else level.price < limit):
            break
        if left_qty is not None:
            take = min(left_qty, level.qty)
        else:
            assert left_quote is not None
            take = min(floor_to_step(left_quote / level.price, spec.step_size), level.qty)
        if take <= 0:
            break
        fills.append(Fill(level.price, take))
        if left_qty is not None:
            left_qty -= take
            if left_qty == 0:
                break
        else:
            assert left_quote is not None
            left_quote -= take * level.price
    return fills


def total_qty(fills: list[Fill]) -> Decimal:
    return sum((f.qty for f in fills), ZERO)


def total_quote(fills: list[Fill]) -> Decimal:
    return sum((f.quote_qty for f in fills), ZERO)


def at_or_better(side: Side, price: Decimal, limit: Decimal) -> bool:
    """Whether a taker on `side` limited to `limit` may trade at `price` (asks at or below it for a BUY)."""
    return price <= limit if side is Side.BUY else price >= limit


def take(book: Sequence[Level], side: Side, price: Decimal, qty: Decimal) -> tuple[tuple[Level, ...], list[Fill]]:
    """How a fill consumes a book: `qty` comes off the levels at or better than `price`, best first.

    Returns the levels left (emptied ones dropped) and what was taken where. A remainder the book
    no longer offers at that price is not taken: the market has moved on since the fill.
    """
    left = qty
    out: list[Level] = []
    taken: list[Fill] = []
    for level in book:
        if left > 0 and at_or_better(side, level.price, price):
            part = min(left, level.qty)
            left -= part
            taken.append(Fill(level.price, part))
            if level.qty > part:
                out.append(Level(level.price, level.qty - part))
        else:
            out.append(level)
    return tuple(out), taken


def net(book: Sequence[Level], side: Side, taken: Iterable[tuple[Decimal, Decimal]]) -> tuple[Level, ...]:
    """`book` (what a taker on `side` trades against, best first) less the liquidity already taken.

    Each (price, qty) taken counts against the first level at or beyond its price (for asks, the
    first priced at or above it), so depth re-centred around a moved quote still shows what fills
    consumed. No level goes below zero; emptied levels are dropped.
    """
    missing = [ZERO] * len(book)
    for price, qty in taken:
        for i, level in enumerate(book):
            if at_or_better(side, price, level.price):
                missing[i] += qty
                break
    return tuple(Level(lv.price, lv.qty - m) for lv, m in zip(book, missing, strict=True) if lv.qty > m)


@dataclass(frozen=True, slots=True)
class Depth:
    """The book as published: best first, and the update ids this publication covers (Binance's U and u).

    `first_id` is the previous publication's `last_id` + 1; `first_id > last_id` means nothing changed.
    """

    first_id: int
    last_id: int
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]

    @property
    def changed(self) -> bool:
        return self.first_id <= self.last_id


class MarketBook:
    """One symbol's book, kept by the market's single writer (the PriceFeed).

    The source gives its shape: synthetic depth around each quote (the simulator) or the levels an
    exchange publishes (Binance's partial depth). Fills consume it (`fold`): a fill's quantity comes
    off the levels at or better than its price, best first, and what was taken is remembered by price.
    Refill rule: liquidity taken at a price comes back linearly, `level_qty` every `refill_ms` (a fully
    taken touch is whole again after `refill_ms`, a deeper level proportionally later). Every change
    (a new shape, a fold, refill progress seen at publication) takes the next update id.
    """

    def __init__(self, spec: SymbolSpec, refill_ms: int, update_id: int = 0) -> None:
        self.spec = spec
        self.refill_ms = max(1, refill_ms)
        self.update_id = self.published_id = update_id
        self.bids: tuple[Level, ...] = ()
        self.asks: tuple[Level, ...] = ()
        # price -> (quantity taken, as of ms): from the bids by sellers, from the asks by buyers
        self.taken: dict[Side, dict[Decimal, tuple[Decimal, int]]] = {Side.BUY: {}, Side.SELL: {}}
        self._published: tuple[tuple[Level, ...], tuple[Level, ...]] | None = None

    def quote(self, bid: Decimal, ask: Decimal) -> None:
        """The simulator's shape: synthetic depth around the feed's bid and ask."""
        self.bids = tuple(synthetic(bid, ask, self.spec, Side.SELL))
        self.asks = tuple(synthetic(bid, ask, self.spec, Side.BUY))
        self.update_id += 1

    def replace(self, bids: Sequence[Level], asks: Sequence[Level]) -> None:
        """An exchange's shape: the levels it publishes, best first."""
        self.bids = tuple(lv for lv in bids if lv.qty > 0)
        self.asks = tuple(lv for lv in asks if lv.qty > 0)
        self.update_id += 1

    def _still_taken(self, side: Side, now: int) -> list[tuple[Decimal, Decimal]]:
        """What is still missing at each price after refilling until `now` (refilled prices are forgotten)."""
        points = self.taken[side]
        out = []
        for price, (qty, at) in list(points.items()):
            left = qty - floor_to_step(self.spec.level_qty * max(0, now - at) / self.refill_ms, self.spec.step_size)
            if left > 0:
                out.append((price, left))
            else:
                del points[price]
        return out

    def view(self, now: int) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        """(bids, asks) as they stand at `now`: the shape less what fills took and has not refilled."""
        return (net(self.bids, Side.SELL, self._still_taken(Side.SELL, now)),
                net(self.asks, Side.BUY, self._still_taken(Side.BUY, now)))

    def fold(self, taker_side: Side, price: Decimal, qty: Decimal, now: int) -> list[Fill]:
        """A fill by a taker on `taker_side` at `price`: take it from the book; returns what was taken where."""
        bids, asks = self.view(now)
        _, taken = take(asks if taker_side is Side.BUY else bids, taker_side, price, qty)
        points = self.taken[taker_side]
        still = dict(self._still_taken(taker_side, now))
        for fill in taken:
            points[fill.price] = (still.get(fill.price, ZERO) + fill.qty, now)
        if taken:
            self.update_id += 1
        return taken

    def publish(self, now: int, depth: int = LEVELS) -> Depth:
        """The book to publish now, with the update ids since the previous publication."""
        bids, asks = self.view(now)
        if self.update_id == self.published_id and (bids, asks) != self._published:
            self.update_id += 1  # only refill moved it
        first, self.published_id = self.published_id + 1, self.update_id
        self._published = (bids, asks)
        return Depth(first, self.update_id, bids[:depth], asks[:depth])
