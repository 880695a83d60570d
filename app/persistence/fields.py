"""Column types of Troupe's own: exact amounts as text, and ids that are never handed out twice.

Kept apart from `db` (the connection) and `models` (the tables) so neither has to import the other.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from peewee import SQL, AutoField, Context, NodeList, SqliteDatabase, TextField

from app.money import to_str


class MoneyField(TextField):
    """An exact decimal stored as canonical text on every backend.

    SQLite turns DECIMAL/NUMERIC columns into binary floats; text keeps every digit. Amounts are
    never compared in SQL, only in Python under a single writer per account.
    """

    def db_value(self, value: Decimal | None) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError(f"MoneyField takes Decimal, got {type(value).__name__}")
        return to_str(value)

    def python_value(self, value: Any) -> Decimal | None:
        return None if value is None else Decimal(value)


class IdField(AutoField):
    """An id that is never handed out twice, even after the row holding the highest one is deleted.

    SQLite's plain `INTEGER PRIMARY KEY` takes max(id) + 1, so a deleted user's id (and with it
    their unexpired tokens and ledger references) would go to the next user; `AUTOINCREMENT` keeps
    the high-water mark in `sqlite_sequence`. PostgreSQL's SERIAL sequence never goes back anyway.
    """

    def ddl(self, ctx: Context) -> NodeList:
        column = super().ddl(ctx)
        database = self.model._meta.database
        if isinstance(getattr(database, "obj", database), SqliteDatabase):
            return NodeList((column, SQL("AUTOINCREMENT")))
        return column
