"""Open positions as columns (pure): exact round trips, and a restored store behaving as a mapping
whose rows become Positions only when touched."""

from __future__ import annotations

import pytest

from app.cfd.rules import Direction, Position
from app.cfd.store import Columns, PositionStore, scaled, unscaled
from tests.support.cfd import D


def positions() -> list[Position]:
    return [Position(3, 7, "BTCUSDT", Direction.LONG, D("100.5"), D("12.5"), D("60000.01"), D("0.02093749"),
                     D("55474.12"), D("56000"), None, 1_700_000_000_000),
            Position(5, 8, "ETHUSDT", Direction.SHORT, D("0.00000001"), D(100), D("3000"), D("0.00000033"),
                     D("3015.07"), None, D("2500.5"), 42)]


def test_amounts_scale_exactly_and_refuse_a_ninth_decimal() -> None:
    assert scaled(D("1.23456789")) == 123456789 and unscaled(123456789) == D("1.23456789")
    assert unscaled(0) == 0
    with pytest.raises(ValueError, match="more than 8 decimals"):
        scaled(D("0.000000001"))


def test_columns_round_trip_every_field() -> None:
    cols = Columns.of(positions())
    blob = cols.to_bytes()
    assert len(blob) == Columns.size(2)
    back = Columns.from_bytes(cols.symbols, 2, blob)
    assert [back.position(row) for row in range(len(back))] == positions()
    with pytest.raises(ValueError, match="wrong length"):
        Columns.from_bytes(cols.symbols, 3, blob)


def test_a_restored_store_is_a_mapping_that_warms_on_touch() -> None:
    store = PositionStore(Columns.of(positions()))
    assert len(store) == 2 and sorted(store) == [3, 5] and 3 in store and 4 not in store
    assert store.margin_total() == D("100.50000001")
    assert store.hot == {} and store[5] == positions()[1] and list(store.hot) == [5], "read: now hot"
    del store[3]  # a cold row
    del store[5]  # a hot one
    assert len(store) == 0 and store.margin_total() == 0
    with pytest.raises(KeyError):
        store[3]
    store[9] = positions()[0]
    assert list(store.all()) == [positions()[0]] and store.columns().data["id"].tolist() == [3]
