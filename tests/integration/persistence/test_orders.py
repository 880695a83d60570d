"""The shard filter of app/persistence/orders.py: the database picks a shard's orders (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from app.domain.orders import CANCELABLE, OrderStatus
from app.messaging.names import shard_of
from app.money import ZERO
from app.persistence.db import db, write_transaction
from app.persistence.orders import (
    count_open_orders,
    insert_order,
    legs_of,
    order_by_id,
    resting_orders,
    set_order_list_id,
    watched_orders,
)
from app.persistence.schema import init_database


@pytest.fixture
def database(database_url: str) -> Iterator[None]:
    init_database(database_url)
    yield
    db.close()


def _insert(user_id: int, status: str, cid: str, **changes: Any) -> int:
    values: dict[str, Any] = {"user_id": user_id, "client_order_id": cid, "symbol": "BTCUSDT", "side": "BUY",
                              "type": "LIMIT", "quantity": Decimal(1), "price": Decimal(100), "status": status,
                              "executed_qty": ZERO, "cumm_quote_qty": ZERO, "locked": ZERO, "fill_count": 0,
                              "created_at": 1, "updated_at": 1, "version": 0, "triggered": False, **changes}
    with write_transaction():
        return insert_order(values)


def test_a_shards_resting_and_watched_orders_are_its_own(database: None) -> None:
    ids = {uid: _insert(uid, "NEW", f"n{uid}", exchange_sent_at=5) for uid in range(1, 8)}
    _insert(1, "FILLED", "done")
    _insert(2, "NEW", "market", type="MARKET", price=None)
    for shard in range(3):
        mine = {i for uid, i in ids.items() if shard_of(uid, 3) == shard}
        assert {r.id for r in resting_orders(shard, 3)} == mine
        assert set(watched_orders(["NEW"], 0, shard, 3)) == mine


def test_open_orders_are_counted_by_the_one_definition(database: None) -> None:
    for status in OrderStatus:
        _insert(9, status.value, f"s-{status.value}")
    assert count_open_orders(9) == len(CANCELABLE)


def test_a_command_on_an_oco_leg_acts_on_both_legs(database: None) -> None:
    first = _insert(4, "NEW", "l-tp")
    second = _insert(4, "NEW", "l-sl", order_list_id=first)
    with write_transaction():
        set_order_list_id(first, first)
    row = order_by_id(second)
    assert row is not None and [r.id for r in legs_of(row)] == [first, second]
    single = order_by_id(_insert(4, "NEW", "single"))
    assert single is not None and [r.id for r in legs_of(single)] == [single.id]
