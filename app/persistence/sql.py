"""Hand-written SQL for the order hot path (peewee builds each query in Python, ~0.2 ms apiece).

The statements are plain SQL that SQLite (>= 3.35) and PostgreSQL both accept; `?` placeholders are
rewritten for the driver in use. Amounts travel as canonical text, like MoneyField.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from functools import cache
from typing import Any

from app.money import to_str
from app.persistence.db import db
from app.persistence.models import Order

_ORDER_COLUMNS = ("id", "user_id", "client_order_id", "symbol", "side", "type", "time_in_force", "quantity",
                  "quote_order_qty", "price", "status", "executed_qty", "cumm_quote_qty", "locked", "fill_count",
                  "reject_reason", "created_at", "updated_at", "version", "exchange_sent_at", "exchange_order_id",
                  "stop_price", "trailing_delta", "trail_extreme", "triggered", "order_list_id")
_MONEY = {"quantity", "quote_order_qty", "price", "executed_qty", "cumm_quote_qty", "locked", "stop_price",
          "trail_extreme"}
_SELECT_ORDER = f'SELECT {", ".join(_ORDER_COLUMNS)} FROM "order"'  # noqa: S608 - constant column names


@cache
def _for(driver_param: str, text: str) -> str:
    return text if driver_param == "?" else text.replace("?", driver_param)


def _q(text: str) -> str:
    return _for(db.obj.param, text)


def money(value: Decimal | None) -> str | None:
    return None if value is None else to_str(value)


def execute(text: str, params: Sequence[Any] = ()) -> Any:
    return db.execute_sql(_q(text), params)


def execute_many(text: str, rows: Iterable[Sequence[Any]]) -> None:
    rows = list(rows)
    if rows:
        cursor = db.cursor()
        cursor.executemany(_q(text), rows)


def _order(row: Sequence[Any]) -> Order:
    values = dict(zip(_ORDER_COLUMNS, row, strict=True))
    for key in _MONEY:
        if values[key] is not None:
            values[key] = Decimal(values[key])
    order = Order(**values)
    order._dirty.clear()
    return order


def order_by_id(order_id: int, user_id: int | None = None) -> Order | None:
    if user_id is None:
        row = execute(f"{_SELECT_ORDER} WHERE id = ?", (order_id,)).fetchone()
    else:
        row = execute(f"{_SELECT_ORDER} WHERE id = ? AND user_id = ?",
                      (order_id, user_id)).fetchone()
    return None if row is None else _order(row)


def order_list_ids(list_id: int) -> list[int]:
    """The orders of an OCO list, first leg first."""
    return [int(r[0]) for r in execute('SELECT id FROM "order" WHERE order_list_id = ? ORDER BY id',
                                       (list_id,)).fetchall()]


def order_by_client_id(user_id: int, client_order_id: str) -> Order | None:
    row = execute(f"{_SELECT_ORDER} WHERE user_id = ? AND client_order_id = ?",
                  (user_id, client_order_id)).fetchone()
    return None if row is None else _order(row)


_INSERT_COLUMNS = tuple(c for c in _ORDER_COLUMNS if c != "id")
_INSERT_ORDER = (f'INSERT INTO "order" ({", ".join(_INSERT_COLUMNS)}) '  # noqa: S608 - constant column names
                 f'VALUES ({", ".join("?" * len(_INSERT_COLUMNS))}) RETURNING id')


def insert_order(values: dict[str, Any]) -> int:
    params = [money(values.get(c)) if c in _MONEY else values.get(c) for c in _INSERT_COLUMNS]
    return int(execute(_INSERT_ORDER, params).fetchone()[0])
