"""The trigger index (pure): which positions a tick closes and why, and its stored order."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from sortedcontainers import SortedList

from app.cfd.rules import Direction, Position
from app.cfd.triggers import TriggerIndex, _cut_from, _cut_to
from tests.support.cfd import D

LONG = Position(1, 7, "BTCUSDT", Direction.LONG, D(100), D(10), D(100), D(10), D("90.46"), D(95), D(110))
SHORT = Position(2, 7, "BTCUSDT", Direction.SHORT, D(100), D(10), D(100), D(10), D("109.45"), D(105), D(90))


def index(*ps: Position) -> TriggerIndex:
    idx = TriggerIndex()
    for p in ps:
        idx.add(p)
    return idx


def test_each_level_fires_on_the_price_it_watches() -> None:
    idx = index(LONG, SHORT)
    assert idx.hits("BTCUSDT", D(100), D("100.5"), D(100)) == {}
    assert idx.hits("BTCUSDT", D(95), D("95.5"), D(100)) == {1: "STOP_LOSS"}, "a long's stop watches the bid"
    assert idx.hits("BTCUSDT", D(100), D(105), D(100)) == {2: "STOP_LOSS"}, "a short's stop watches the ask"
    assert idx.hits("BTCUSDT", D(110), D(90), D(100)) == {1: "TAKE_PROFIT", 2: "TAKE_PROFIT"}
    assert idx.hits("BTCUSDT", D(99), D(99), D("90.46")) == {1: "LIQUIDATED"}, "liquidation watches the mark"
    assert idx.hits("BTCUSDT", D(90), D("90.5"), D("90.40")) == {1: "LIQUIDATED"}, "a liquidation beats a stop"
    assert idx.hits("ETHUSDT", D(1), D(1), D(1)) == {}


def test_a_fully_funded_long_has_no_liquidation_level_and_removal_forgets_it() -> None:
    one_x = replace(LONG, id=3, liquidation=D(0), stop_loss=None, take_profit=None)
    idx = index(one_x, LONG)
    assert idx.hits("BTCUSDT", D(1), D(1), D("0.01")) == {1: "LIQUIDATED"}
    idx.remove(LONG)
    assert idx.hits("BTCUSDT", D(1), D(1), D("0.01")) == {}


def test_the_stored_order_rebuilds_the_same_lists() -> None:
    idx = index(LONG, SHORT, replace(LONG, id=4, liquidation=D("80.01")))
    layout, blob = idx.to_bytes()
    back = TriggerIndex()
    back.load_bytes(layout, blob)
    assert back.to_bytes() == (layout, blob)
    assert back.hits("BTCUSDT", D(80), D(80), D(80)) == idx.hits("BTCUSDT", D(80), D(80), D(80)) == {
        1: "LIQUIDATED", 4: "LIQUIDATED", 2: "TAKE_PROFIT"}


def test_a_restored_list_is_a_valid_sorted_list_that_keeps_working() -> None:
    """Restoring lays the stored entries out without sorting them again: across many sublists the
    result passes sortedcontainers' own invariant check, and adds, removes and ranges still hold."""
    positions = [replace(LONG, id=i, liquidation=D(50) + D(i % 997) / 100) for i in range(1, 5001)]
    idx = index(*positions)
    layout, blob = idx.to_bytes()
    back = TriggerIndex()
    back.load_bytes(layout, memoryview(blob))
    for lists in back.lists.values():
        for lst in lists.values():
            lst._check()
    assert back.to_bytes() == (layout, blob)
    back.remove(positions[0])
    back.add(replace(LONG, id=9999, liquidation=D("60.5")))
    idx.remove(positions[0])
    idx.add(replace(LONG, id=9999, liquidation=D("60.5")))
    for lists in back.lists.values():
        for lst in lists.values():
            lst._check()
    assert back.hits("BTCUSDT", D(90), D(90), D(55)) == idx.hits("BTCUSDT", D(90), D(90), D(55))
    assert back.to_bytes() == idx.to_bytes()


def test_taking_a_ticks_hits_cuts_exactly_them_and_leaves_valid_lists() -> None:
    """`take` cuts each list's run of hits off at once: what it returns is what `hits` said, every hit
    position's other entries go with `remove(p, gone)`, the rest stays, and every list still passes
    sortedcontainers' own check, over many prices on both sides, with stops and take-profits."""
    rng = random.Random(3)
    positions = []
    for i in range(1, 6001):
        long = i % 2 == 0
        level = D(rng.randint(5000, 15000)) / 100
        if long:
            positions.append(replace(LONG, id=i, liquidation=level - 20, stop_loss=level - 10 if i % 3 else None,
                                     take_profit=level + 10 if i % 5 else None))
        else:
            positions.append(replace(SHORT, id=i, liquidation=level + 20, stop_loss=level + 10 if i % 3 else None,
                                     take_profit=level - 10 if i % 5 else None))
    open_ = {p.id: p for p in positions}
    idx = index(*positions)
    for price in [D(120), D(80), D(100), D(130), D(60), D(95), D(101)]:
        expected = idx.hits("BTCUSDT", price, price + D("0.5"), price)
        reasons, gone = idx.take("BTCUSDT", price, price + D("0.5"), price)
        assert reasons == expected
        for pid in reasons:
            idx.remove(open_.pop(pid), gone[pid])
        for lst in idx.lists["BTCUSDT"].values():
            lst._check()
        assert idx.to_bytes() == index(*open_.values()).to_bytes(), "exactly the hit positions left the index"
        assert idx.hits("BTCUSDT", price, price + D("0.5"), price) == {}
    assert len(open_) < len(positions) / 2


@pytest.mark.parametrize("seed", range(20))
def test_cutting_either_end_of_a_sorted_list_keeps_its_layout(seed: int) -> None:
    """The cuts under `take`, on lists with a small load so that every branch runs (a first sublist left
    short and merged into its neighbour, split again when that makes it too long): they return exactly
    the entries past the cut and leave a list that passes its own check."""
    rng = random.Random(seed)
    for cut, keep in ((_cut_to, lambda e, k: e > k), (_cut_from, lambda e, k: e < k)):
        lst = SortedList()
        lst._reset(4)
        values = [(rng.randint(0, 300), i) for i in range(rng.randint(0, 200))]
        for v in values:
            lst.add(v)
        for _ in range(6):
            key = (rng.randint(-10, 310), rng.choice([-1, 2**63]))
            expected = [e for e in sorted(values) if not keep(e, key)]
            assert cut(lst, key) == expected
            values = [e for e in values if keep(e, key)]
            lst._check()
            assert list(lst) == sorted(values) and len(lst) == len(values)
            for v in [(rng.randint(0, 300), 10_000 + k) for k in range(rng.randint(0, 30))]:
                lst.add(v)
                values.append(v)
            lst._check()
