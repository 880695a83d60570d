"""The trade tape (app/domain/tape.py): ids increase, time never goes back, candles are the sum of prints."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain import tape
from app.domain.candles import INTERVALS, Candle
from app.domain.tape import Print, Tape

D = Decimal


def test_prints_are_numbered_and_their_time_never_goes_back() -> None:
    t = Tape(last_id=7, last_ts=1000)
    a = t.record(D("1"), D("2"), True, 900)
    b = t.record(D("1"), D("3"), False, 1500)
    assert (a.id, a.ts) == (8, 1000) and (b.id, b.ts) == (9, 1500)
    assert Print.from_json(b.to_json()) == b
    assert b.to_json() == {"id": 9, "price": "1", "qty": "3", "quoteQty": "3", "time": 1500, "isBuyerMaker": False}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(-20_000, 90_000), st.decimals(D("0.01"), D("100"), places=2),
                          st.decimals(D("0.00001"), D("3"), places=5)), min_size=1, max_size=60),
       st.sampled_from(list(INTERVALS)))
def test_every_candle_volume_is_the_sum_of_its_prints(steps: list[tuple[int, Decimal, Decimal]], interval: str) -> None:
    t, ts = Tape(), 1_700_000_000_000
    prints = []
    for jump, price, qty in steps:
        ts += jump  # the source's clock may jump back; the tape's does not
        prints.append(t.record(price, qty, False, ts))
    ms = INTERVALS[interval]
    candles: dict[int, Decimal] = {}
    current = None
    for chunk in (prints[:len(prints) // 2], prints[len(prints) // 2:]):  # folded in two batches, as the feed does
        for candle in tape.fold(current, ms, chunk):
            candles[candle.t] = candle.v
            current = candle
    assert candles == tape.candle_volumes(prints, ms)


def test_an_exchange_s_closed_candle_gets_the_paper_prints_of_its_period() -> None:
    closed = Candle(60_000, D("10"), D("12"), D("9"), D("11"), D("1.5"))
    (paper,) = tape.fold(None, 60_000, [Print(1, D("12.5"), D("0.25"), True, 61_000),
                                        Print(2, D("8.5"), D("0.05"), False, 62_000)])
    assert tape.with_paper(closed, paper) == Candle(60_000, D("10"), D("12.5"), D("8.5"), D("11"), D("1.80"))
    assert tape.with_paper(closed, None) == closed
