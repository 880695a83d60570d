"""The market's book (app/domain/book.py `MarketBook`): consumption, refill, no negative size, update ids."""

from __future__ import annotations

import itertools
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain import book
from app.domain.book import LEVELS, Level, MarketBook
from app.domain.orders import Side
from app.domain.symbols import spec_for

D = Decimal
BTC = spec_for("BTCUSDT")  # tick 0.01, step 0.00001, level_qty 0.4
REFILL_MS = 1000


def fresh(bid: str = "67250.00", ask: str = "67250.01") -> MarketBook:
    b = MarketBook(BTC, REFILL_MS)
    b.quote(D(bid), D(ask))
    return b


def test_a_fresh_book_is_the_synthetic_depth() -> None:
    bids, asks = fresh().view(0)
    assert len(bids) == len(asks) == LEVELS
    assert asks[0] == Level(D("67250.01"), D("0.40000")) and bids[0] == Level(D("67250.00"), D("0.40000"))


def test_a_fill_consumes_the_levels_it_took_and_two_fills_walk_deeper_than_one() -> None:
    b = fresh()
    taken = b.fold(Side.BUY, D("67256.74"), D("0.5"), now=0)
    assert taken == [book.Fill(D("67250.01"), D("0.40000")), book.Fill(D("67256.74"), D("0.1"))]
    _, asks = b.view(0)
    assert asks[0] == Level(D("67256.74"), D("0.50000")), "the touch is gone, the next level is smaller"
    second = book.walk(asks, BTC, Side.BUY, qty=D("0.5"))
    first = book.walk(fresh().view(0)[1], BTC, Side.BUY, qty=D("0.5"))
    assert book.total_quote(second) > book.total_quote(first)
    assert b.view(0)[0] == fresh().view(0)[0], "a buyer leaves the bids alone"


def test_a_fill_beyond_what_the_book_offers_at_its_price_takes_only_that() -> None:
    b = fresh()
    taken = b.fold(Side.SELL, D("67250.00"), D("3"), now=0)  # only the touch is at or above 67250.00
    assert taken == [book.Fill(D("67250.00"), D("0.40000"))]
    assert b.fold(Side.SELL, D("67250.00"), D("1"), now=0) == [], "nothing left at that price"


def test_refill_brings_back_a_touch_size_per_refill_period() -> None:
    b = fresh()
    b.fold(Side.BUY, D("67250.01"), D("0.4"), now=0)
    assert b.view(0)[1][0].price == D("67256.74")
    assert b.view(500)[1][0] == Level(D("67250.01"), D("0.20000")), "half the period: half a touch back"
    assert b.view(REFILL_MS)[1] == fresh().view(0)[1], "a whole period: the touch is whole again"
    assert b.taken[Side.BUY] == {}, "refilled prices are forgotten"


def test_what_was_taken_stays_taken_when_the_quote_moves() -> None:
    b = fresh()
    b.fold(Side.BUY, D("67270.19"), D("1.8"), now=0)  # the first four ask levels
    b.quote(D("67250.50"), D("67250.51"))  # the market moves half a dollar: the levels re-centre
    _, asks = b.view(0)
    assert asks[0].price > D("67270"), "the liquidity taken is still missing from the re-centred levels"


def test_update_ids_increase_and_cover_every_change() -> None:
    b = fresh()
    first = b.publish(0)
    assert (first.first_id, first.last_id) == (1, 1)
    b.fold(Side.BUY, D("67250.01"), D("0.1"), now=0)
    b.quote(D("67251.00"), D("67251.01"))
    second = b.publish(0)
    assert (second.first_id, second.last_id) == (2, 3)
    assert not b.publish(0).changed, "nothing changed: nothing new"
    b.fold(Side.BUY, D("67251.01"), D("0.1"), now=0)
    b.publish(0)
    refilled = b.publish(REFILL_MS)
    assert refilled.changed and refilled.first_id == refilled.last_id, "refill progress is a change too"


def test_an_exchange_shape_replaces_the_synthetic_one() -> None:
    b = MarketBook(BTC, REFILL_MS, update_id=41)
    b.replace([Level(D("100"), D("1")), Level(D("99"), D("0"))], [Level(D("101"), D("2"))])
    depth = b.publish(0)
    assert depth.bids == (Level(D("100"), D("1")),) and depth.asks == (Level(D("101"), D("2")),)
    assert depth.last_id == 42


prices = st.decimals(min_value=D("67000"), max_value=D("67500"), places=2)
qtys = st.decimals(min_value=D("0.00001"), max_value=D("5"), places=5)
steps = st.lists(st.one_of(
    st.tuples(st.just("quote"), prices, st.integers(0, 300)),
    st.tuples(st.sampled_from(["buy", "sell"]), prices, qtys, st.integers(0, 300)),
), min_size=1, max_size=30)


@settings(max_examples=150, deadline=None)
@given(steps)
def test_any_history_keeps_sizes_positive_bounded_ordered_and_ids_increasing(history: list[tuple]) -> None:
    b = fresh()
    now, last_id = 0, 0
    for step in history:
        now += step[-1]
        if step[0] == "quote":
            b.quote(step[1], step[1] + D("0.01"))
        else:
            side = Side.BUY if step[0] == "buy" else Side.SELL
            before = b.view(now)
            offered = sum((lv.qty for lv in (before[1] if side is Side.BUY else before[0])
                           if book.at_or_better(side, lv.price, step[1])), D(0))
            taken = book.total_qty(b.fold(side, step[1], step[2], now))
            assert taken == min(step[2], offered), "a fill takes what is offered at its price, no more"
        depth = b.publish(now)
        assert depth.first_id == last_id + 1 and depth.last_id >= last_id
        last_id = depth.last_id
        source = {lv.price: lv.qty for lv in (*b.bids, *b.asks)}
        for levels, better in ((depth.bids, lambda x, y: x > y), (depth.asks, lambda x, y: x < y)):
            assert all(lv.qty > 0 for lv in levels), "no empty or negative level"
            assert all(lv.qty <= source[lv.price] for lv in levels), "never more than the shape offers"
            assert all(better(a.price, z.price) for a, z in itertools.pairwise(levels)), "best first"
    # Wait long enough and everything taken comes back.
    assert b.view(now + 100 * REFILL_MS) == (b.bids, b.asks)
