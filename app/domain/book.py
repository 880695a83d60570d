"""The simulated exchange's order book: synthetic depth around the current bid/ask."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from app.domain.orders import Side
from app.domain.symbols import SymbolSpec
from app.money import ZERO, floor_to_step

LEVELS = 25
LEVEL_GAP = Decimal("0.0001")  # one basis point between levels


@dataclass(frozen=True, slots=True)
class Quote:
    bid: Decimal
    ask: Decimal
    ts: int  # ms, from the price feed
    last: Decimal | None = None  # the last trade price; triggers use it

    @property
    def last_price(self) -> Decimal:
        return self.last if self.last is not None else (self.bid + self.ask) / 2


@dataclass(frozen=True, slots=True)
class Level:
    price: Decimal
    qty: Decimal


@dataclass(frozen=True, slots=True)
class Fill:
    price: Decimal
    qty: Decimal

    @property
    def quote_qty(self) -> Decimal:
        return self.price * self.qty


def levels(quote: Quote, spec: SymbolSpec, side: Side) -> Iterator[Level]:
    """The levels a taker on `side` trades against, best first: asks for BUY, bids for SELL.

    Level i sits i basis points away from the touch and holds (1 + i/2) × level_qty, so large
    orders walk the book and pay a realistic slippage. Lazy: most orders need only the first.
    """
    for i in range(LEVELS):
        size = floor_to_step(spec.level_qty * (1 + Decimal(i) / 2), spec.step_size)
        if side is Side.BUY:
            raw = quote.ask * (1 + LEVEL_GAP * i)
            price = (raw / spec.tick_size).to_integral_value(ROUND_CEILING) * spec.tick_size
        else:
            raw = quote.bid * (1 - LEVEL_GAP * i)
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
