"""The plumbing of the hand-written fast path (peewee builds each query in Python, ~0.2 ms apiece).

The statements are plain SQL that SQLite (>= 3.35) and PostgreSQL both accept; `?` placeholders are
rewritten for the driver in use. Amounts travel as canonical text, like MoneyField. Only the
repositories of this package call it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from functools import cache
from typing import Any

from app.money import to_str
from app.persistence.db import db


@cache
def _for(driver_param: str, text: str) -> str:
    return text if driver_param == "?" else text.replace("?", driver_param)


def _q(text: str) -> str:
    return _for(db.obj.param, text)


def execute_locking(text: str, params: Sequence[Any] = ()) -> Any:
    """A SELECT whose rows stay locked until the transaction ends: PostgreSQL's `FOR UPDATE`. SQLite has no
    row locks and needs none: its writers are serialised whole (BEGIN IMMEDIATE)."""
    return execute(text if db.obj.param == "?" else text + " FOR UPDATE", params)


def money(value: Decimal | None) -> str | None:
    return None if value is None else to_str(value)


def execute(text: str, params: Sequence[Any] = ()) -> Any:
    return db.execute_sql(_q(text), params)


def execute_many(text: str, rows: Iterable[Sequence[Any]]) -> None:
    rows = list(rows)
    if rows:
        cursor = db.cursor()
        cursor.executemany(_q(text), rows)
