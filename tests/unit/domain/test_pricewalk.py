"""The seeded random walk: whole ticks, a spread of at least one tick, repeatable; its history ends at the price."""

from __future__ import annotations

import itertools
import random
from decimal import Decimal

import pytest

from app.domain.pricewalk import RandomWalk, history
from app.domain.symbols import spec_for
from app.money import is_multiple

D = Decimal


@pytest.mark.parametrize("symbol", ["BTCUSDT", "XRPUSDT", "DOGEUSDT"])
def test_every_step_is_on_the_tick_with_last_inside_the_spread(symbol: str) -> None:
    spec = spec_for(symbol)
    walk = RandomWalk(spec, random.Random(7), spec.start_price, 1000)
    for _ in range(500):
        last, bid, ask, volume = walk.step()
        assert all(is_multiple(p, spec.tick_size) for p in (last, bid, ask))
        assert bid <= last <= ask
        assert ask - bid == spec.tick_size * max(1, walk.ticks // 20_000)
        assert bid >= 10 * spec.tick_size - spec.tick_size * max(1, walk.ticks // 20_000)
        assert is_multiple(volume, spec.step_size)
        assert spec.level_qty / 100 <= volume <= spec.level_qty * 4


def test_the_same_seed_walks_the_same_path_exactly() -> None:
    spec = spec_for("BTCUSDT")
    one = RandomWalk(spec, random.Random(42), D("67250.00"), 1000)
    two = RandomWalk(spec, random.Random(42), D("67250.00"), 1000)
    assert [one.step() for _ in range(100)] == [two.step() for _ in range(100)]


def test_the_walk_starts_at_the_given_price_and_never_goes_below_ten_ticks() -> None:
    spec = spec_for("BTCUSDT")
    assert RandomWalk(spec, random.Random(1), D("67250.00"), 1000).ticks == 6_725_000
    tiny = RandomWalk(spec, random.Random(1), D("0.01"), 1000)
    assert tiny.ticks == 10
    for _ in range(200):
        tiny.step()
        assert tiny.ticks >= 10


def test_history_is_closed_consecutive_candles_ending_at_the_price() -> None:
    spec = spec_for("BTCUSDT")
    end_ts = 1_700_000_010_000  # 30 s into a minute: the open minute is not part of the history
    candles = history(spec, random.Random(7), D("67250.00"), end_ts, 60_000, 120)
    assert len(candles) == 120
    assert [c.t for c in candles] == [1_699_999_980_000 - 60_000 * i for i in range(120, 0, -1)]
    assert candles[-1].c == D("67250.00")
    for before, after in itertools.pairwise(candles):
        assert after.o == before.c
    for c in candles:
        assert c.l <= min(c.o, c.c) <= max(c.o, c.c) <= c.h
        assert c.l >= spec.tick_size
        assert all(is_multiple(p, spec.tick_size) for p in (c.o, c.h, c.l, c.c))
        assert is_multiple(c.v, spec.step_size) and c.v > 0


def test_history_is_repeatable_for_a_seed() -> None:
    spec = spec_for("ETHUSDT")
    assert history(spec, random.Random(3), D("3480"), 10**12, 300_000, 50) == history(
        spec, random.Random(3), D("3480"), 10**12, 300_000, 50)
