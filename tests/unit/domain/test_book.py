"""The simulator's synthetic depth and the walk through it, to the last digit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.domain import book
from app.domain.book import LEVELS, Fill, Level, Quote
from app.domain.orders import Side
from app.domain.symbols import spec_for

D = Decimal
BTC = spec_for("BTCUSDT")  # tick 0.01, step 0.00001, level_qty 0.4
DOGE = spec_for("DOGEUSDT")  # tick 0.00001, step 1, level_qty 150000
Q = Quote(D("67250.00"), D("67250.01"), 1)


def test_last_price_is_the_last_trade_or_else_the_mid() -> None:
    assert Q.last_price == D("67250.005")
    assert Quote(D("1"), D("2"), 1, D("1.7")).last_price == D("1.7")


def test_a_fill_is_worth_price_times_quantity() -> None:
    assert Fill(D("67250.01"), D("0.00001")).quote_qty == D("0.6725001")


@pytest.mark.parametrize(("side", "first_four"), [
    # Asks round up to the tick, bids down: the book is never better than the touch.
    (Side.BUY, [("67250.01", "0.40000"), ("67256.74", "0.60000"), ("67263.47", "0.80000"),
                ("67270.19", "1.00000")]),
    (Side.SELL, [("67250.00", "0.40000"), ("67243.27", "0.60000"), ("67236.55", "0.80000"),
                 ("67229.82", "1.00000")]),
])
def test_levels_sit_a_basis_point_apart_and_grow_by_half_a_level(side: Side,
                                                                 first_four: list[tuple[str, str]]) -> None:
    levels = list(book.levels(Q, BTC, side))
    assert len(levels) == LEVELS
    assert [(str(lv.price), str(lv.qty)) for lv in levels[:4]] == first_four
    assert levels[-1].qty == D("5.2")  # (1 + 24/2) × 0.4


def test_bid_levels_stop_before_reaching_zero() -> None:
    levels = list(book.levels(Quote(D("0.00002"), D("0.00003"), 1), DOGE, Side.SELL))
    assert [lv.price for lv in levels[:3]] == [D("0.00002"), D("0.00001"), D("0.00001")]
    assert all(lv.price > 0 for lv in levels)
    # One tick above zero: the next level down would be priced 0, so the book ends after the touch.
    assert list(book.levels(Quote(D("0.00001"), D("0.00002"), 1), DOGE, Side.SELL)) == [
        Level(D("0.00001"), D("150000"))]


@pytest.mark.parametrize(("side", "kwargs", "fills", "qty", "quote"), [
    (Side.BUY, {"qty": D("0.1")}, [("67250.01", "0.1")], "0.1", "6725.001"),
    (Side.BUY, {"qty": D("1")}, [("67250.01", "0.40000"), ("67256.74", "0.60000")], "1.00000", "67254.0480000"),
    # A quote amount buys whole steps only and never spends more than it has.
    (Side.BUY, {"quote_qty": D("50000")}, [("67250.01", "0.40000"), ("67256.74", "0.34345")], "0.74345",
     "49999.3313530"),
    (Side.BUY, {"quote_qty": D("0.5")}, [], "0", "0"),
    # A limit stops the walk at the first level beyond it.
    (Side.BUY, {"qty": D("2"), "limit": D("67256.74")}, [("67250.01", "0.40000"), ("67256.74", "0.60000")],
     "1.00000", "67254.0480000"),
    (Side.BUY, {"qty": D("2"), "limit": D("67250.00")}, [], "0", "0"),
    (Side.SELL, {"qty": D("2"), "limit": D("67240")}, [("67250.00", "0.40000"), ("67243.27", "0.60000")],
     "1.00000", "67245.9620000"),
    (Side.SELL, {"qty": D("0.00001")}, [("67250.00", "0.00001")], "0.00001", "0.6725000"),
])
def test_walk_takes_level_by_level(side: Side, kwargs: dict[str, Decimal], fills: list[tuple[str, str]],
                                   qty: str, quote: str) -> None:
    taken = book.walk(book.levels(Q, BTC, side), BTC, side, **kwargs)
    assert [(str(f.price), str(f.qty)) for f in taken] == fills
    assert str(book.total_qty(taken)) == qty
    assert str(book.total_quote(taken)) == quote


def test_walk_reads_only_the_levels_it_needs() -> None:
    read: list[Level] = []

    def counting() -> object:
        for lv in book.levels(Q, BTC, Side.BUY):
            read.append(lv)
            yield lv

    book.walk(counting(), BTC, Side.BUY, qty=D("0.4"))  # type: ignore[arg-type]
    assert len(read) == 1


def test_the_whole_book_runs_out() -> None:
    taken = book.walk(book.levels(Q, BTC, Side.BUY), BTC, Side.BUY, qty=D("9000"))
    assert len(taken) == LEVELS
    assert book.total_qty(taken) == sum((D("0.4") * (1 + D(i) / 2) for i in range(LEVELS)), D(0)) == D("70")
