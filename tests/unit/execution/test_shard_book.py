"""A shard's view of the one book: the published book less its own fills the feed has not folded in yet."""

from __future__ import annotations

from decimal import Decimal

from app.domain.book import Level
from app.domain.execution import Fees
from app.domain.ledger import house_of_shard
from app.domain.orders import Side
from app.domain.symbols import build_specs
from app.execution.simulated import SimulatedVenue
from app.messages import PriceTick

D = Decimal
BIDS = ((D("100"), D("1")), (D("99"), D("2")))
ASKS = ((D("101"), D("1")), (D("102"), D("2")))


def tick(ts: int, folded: tuple[str, ...] = (), bids: tuple = BIDS, asks: tuple = ASKS) -> PriceTick:
    return PriceTick(msg_id=f"t{ts}", symbol="BTCUSDT", price=D("100.5"), bid=D("100"), ask=D("101"), ts=ts, seq=ts,
                     bids=bids, asks=asks, book_id=ts, folded=folded)


def venue() -> SimulatedVenue:
    return SimulatedVenue(build_specs(("BTCUSDT",)), Fees.flat(D("0.001")), house_of_shard(0), 0, 1)


def test_own_fills_stay_taken_until_a_tick_says_the_book_took_them_in() -> None:
    v = venue()
    v.pending["BTCUSDT"] = {"7:1": (Side.BUY, D("102"), D("1.5"), 10**15)}
    quote = v._accept(tick(2))
    assert quote is not None
    assert (quote.ask, quote.asks) == (D("102"), (Level(D("102"), D("1.5")),)), "its own fill is off the book"
    assert quote.bids == tuple(Level(p, q) for p, q in BIDS)
    # The feed folded it: its next book already lacks that liquidity, so the shard stops counting it.
    folded_asks = ((D("102"), D("1.5")),)
    quote = v._accept(tick(3, folded=("7:1",), asks=folded_asks))
    assert quote is not None and quote.asks == (Level(D("102"), D("1.5")),) and v.pending["BTCUSDT"] == {}


def test_a_tick_without_a_book_gets_synthetic_depth_that_nothing_consumes() -> None:
    v = venue()
    v.pending["BTCUSDT"] = {"7:1": (Side.BUY, D("101"), D("1"), 10**15)}
    quote = v._accept(tick(1, bids=(), asks=()))
    assert quote is not None and quote.asks == () and quote.ask == D("101")


def test_an_unconfirmed_fill_is_forgotten_after_a_while() -> None:
    v = venue()
    v.pending["BTCUSDT"] = {"7:1": (Side.SELL, D("100"), D("1"), 0)}  # ms 0: long ago
    quote = v._accept(tick(1))
    assert quote is not None and quote.bids == tuple(Level(p, q) for p, q in BIDS) and v.pending["BTCUSDT"] == {}
