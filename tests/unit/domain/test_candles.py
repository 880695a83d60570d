"""Candles folded from ticks, their open times per interval, and their JSON."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.domain.candles import INTERVALS, Candle, apply_tick, open_time

D = Decimal


def test_the_chart_intervals() -> None:
    assert INTERVALS == {"1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000, "4h": 14_400_000,
                         "1d": 86_400_000}


@pytest.mark.parametrize(("ts", "interval", "opened"), [
    (0, 60_000, 0),
    (59_999, 60_000, 0),
    (60_000, 60_000, 60_000),
    (1_700_000_123_456, 60_000, 1_700_000_100_000),
    (1_700_000_123_456, 3_600_000, 1_699_999_200_000),
    (1_700_000_123_456, 86_400_000, 1_699_920_000_000),
])
def test_open_time(ts: int, interval: int, opened: int) -> None:
    assert open_time(ts, interval) == opened


def test_ticks_fold_into_open_high_low_close_and_summed_volume() -> None:
    c, new = apply_tick(None, 60_000, 120_500, D("67250.01"), D("0.00100000"))
    assert new and c == Candle(120_000, D("67250.01"), D("67250.01"), D("67250.01"), D("67250.01"), D("0.001"))
    for ts, price, volume in ((121_000, "67260.12345678", "0.5"), (122_000, "67249.99", "0.00000001"),
                              (179_999, "67255", "2")):
        c, new = apply_tick(c, 60_000, ts, D(price), D(volume))
        assert not new
    assert c == Candle(120_000, D("67250.01"), D("67260.12345678"), D("67249.99"), D("67255"), D("2.50100001"))
    assert str(c.v) == "2.50100001"


def test_a_tick_of_the_next_interval_starts_a_new_candle() -> None:
    c = Candle(120_000, D(10), D(12), D(9), D(11), D(3))
    nxt, started = apply_tick(c, 60_000, 180_000, D("11.5"), D("2"))
    assert started and nxt == Candle(180_000, D("11.5"), D("11.5"), D("11.5"), D("11.5"), D(2))


def test_a_late_tick_never_rewrites_a_newer_candle() -> None:
    c = Candle(180_000, D(1), D(1), D(1), D(1), D(1))
    late, started = apply_tick(c, 60_000, 170_000, D("99"), D(1))
    assert not started and late is c


def test_json_round_trip_keeps_every_digit_as_plain_text() -> None:
    c = Candle(1_700_000_000_000, D("67250.01000000"), D("1E+5"), D("0.00000001"), D("67250"), D("0E-8"))
    assert c.to_json() == {"t": 1_700_000_000_000, "o": "67250.01", "h": "100000", "l": "0.00000001",
                           "c": "67250", "v": "0"}
    assert Candle.from_json(c.to_json()) == c
    assert Candle.from_json({"t": "5", "o": "1", "h": "2", "l": "0.5", "c": "1.5", "v": "10"}) == Candle(
        5, D(1), D(2), D("0.5"), D("1.5"), D(10))


def test_candles_open_high_low_close_and_ignore_late_ticks() -> None:
    c, new = apply_tick(None, 60_000, 120_500, Decimal("10"), Decimal("1"))
    assert new and c.t == 120_000
    c, new = apply_tick(c, 60_000, 121_000, Decimal("12"), Decimal("1"))
    c, _ = apply_tick(c, 60_000, 122_000, Decimal("9"), Decimal("1"))
    assert not new and (c.o, c.h, c.l, c.c, c.v) == (Decimal("10"), Decimal("12"), Decimal("9"), Decimal("9"),
                                                       Decimal("3"))
    late, started = apply_tick(Candle(180_000, *(Decimal(1),) * 5), 60_000, 170_000, Decimal("99"), Decimal(1))
    assert not started and late.h == Decimal(1)
    nxt, started = apply_tick(c, 60_000, 180_000, Decimal("11"), Decimal("2"))
    assert started and nxt.t == 180_000 and nxt.o == Decimal("11")
