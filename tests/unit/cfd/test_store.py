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


def test_cold_rows_are_found_by_id_in_a_large_store_and_each_is_taken_once() -> None:
    """Rows are looked up by binary search on the id column: every id found, gaps and foreign keys
    not, and a row taken (warmed, replaced or closed) never comes back as cold."""
    base = positions()[0]
    many = [Position(pid, base.user_id, base.symbol, base.direction, base.margin, base.leverage, base.entry,
                     base.qty, base.liquidation, base.stop_loss, base.take_profit, base.opened_at)
            for pid in range(10, 2010, 2)]  # even ids only
    store = PositionStore(Columns.of(many))
    assert len(store) == 1000 and all(pid in store for pid in range(10, 2010, 2))
    assert not any(pid in store for pid in (9, 11, 2011, 0, -4, "10", 10.5, None))
    assert store[1000].id == 1000 and 1000 in store.hot
    store[1002] = many[0]  # replaced while cold
    del store[1004]  # closed while cold
    with pytest.raises(KeyError):
        del store[1004]
    assert len(store) == 999 and 1004 not in store and store[1002] == many[0]
    assert sorted(store) == sorted(set(range(10, 2010, 2)) - {1004})
    assert store.margin_total() == base.margin * 999
    assert len(list(store.all())) == 999
