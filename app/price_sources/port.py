"""The PriceSource port: where prices come from, and what a source may write through the PriceFeed.

The PriceFeed actor (`actors/price_feed.py`) owns Redis and publishes exactly one shape of market
data (`PriceTick` with the book, `CandleUpdate`, `TradePrints`, `MarketStatus` on `topic:market`,
the `prices` and `stale` hashes, the candle lists, the book and the tape) whatever the source, so
nothing downstream knows which one runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Protocol

from app.domain.candles import Candle
from app.messages import PriceTick


class Market(Protocol):
    """The PriceFeed as a source sees it. Writes are queued and sent together after each call of the source."""

    def latest(self) -> dict[str, PriceTick]:
        """The last tick of each symbol, as a previous run left it (empty at first start)."""

    def last_candle(self, symbol: str, interval: str) -> Candle | None:
        """The newest stored candle of a list (it becomes the one ticks update), or None: no history yet."""

    def replace_candles(self, symbol: str, interval: str, candles: list[Candle]) -> None:
        """Make `candles` the whole history of a list (written at once)."""

    def publish(self, symbol: str, price: Decimal, bid: Decimal, ask: Decimal, volume: Decimal, ts: int,
                prints: Sequence[tuple[Decimal, Decimal, bool, int]] | None = None) -> None:
        """A trade price and the touch around it: a tick, the tape and every interval's candle updated.

        `prints` are the trades behind it, each (price, qty, buyer is maker, ms), summing to
        `volume`; None: one trade of `volume` at `price`. Without the source's own depth
        (`depth`), the book is synthetic depth around `bid`/`ask`.
        """

    def depth(self, symbol: str, bids: Sequence[tuple[Decimal, Decimal]],
              asks: Sequence[tuple[Decimal, Decimal]]) -> None:
        """The levels the exchange publishes (best first): from now on the symbol's book has their shape."""

    def close_candle(self, symbol: str, interval: str, candle: Candle) -> None:
        """An authoritative candle (Binance's closed kline) replaces ours if it is for our current period."""

    def set_stale(self, symbol: str, stale: bool, since: int, now: int) -> None:
        """The symbol's data went silent (`stale`, last seen at `since`) or flows again; announced to everyone."""

    def clear_stale(self) -> None:
        """Forget every stale mark a previous run left."""


class PriceSource(Protocol):
    """Produces prices for the PriceFeed. Runs on the actor's thread except what it starts itself."""

    # How often `on_timer` runs, in seconds.
    interval_s: float

    def start(self, market: Market, tell: Callable[[Any], None]) -> None:
        """Load or build history and begin; `tell` hands a message to the actor from another thread."""

    def on_timer(self, market: Market) -> None:
        """Periodic work: the next random-walk step, or the staleness check."""

    def on_message(self, message: Any, market: Market) -> bool:
        """A message this source told the actor; False: not one of its own."""

    def stop(self) -> None:
        """The actor stops: end any thread of the source."""
