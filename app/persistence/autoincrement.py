"""Rebuild, once and in place, SQLite tables whose ids were created without AUTOINCREMENT (the baseline migration).

Databases created before `IdField` hand a deleted row's id out again. SQLite cannot change a
primary key with ALTER TABLE, so each such table is rebuilt in one write transaction: its indexes
are dropped, it is renamed aside, the model's table (with its indexes) is created, the rows are
copied with their ids, the old table is dropped and any index the model does not declare is
recreated from its saved SQL. Inserting the old ids sets `sqlite_sequence` to max(id): an id that
was already deleted above it cannot be known any more.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from peewee import SqliteDatabase

from app.persistence.db import db, write_transaction
from app.persistence.fields import IdField

log = logging.getLogger(__name__)
_AUTOINCREMENT = re.compile(r"\bAUTOINCREMENT\b", re.IGNORECASE)


def adopt_autoincrement(models: list[Any]) -> None:
    """Rebuild every table of `models` with an `IdField` that lacks AUTOINCREMENT (SQLite only)."""
    if not isinstance(db.obj, SqliteDatabase):
        return  # PostgreSQL: SERIAL sequences never reuse a value
    for model in models:
        if not isinstance(model._meta.primary_key, IdField) or _has_autoincrement(model._meta.table_name):
            continue
        with write_transaction():
            if _has_autoincrement(model._meta.table_name):  # another process sharing the file was first
                continue
            rows, top = _rebuild(model)
        log.info("database: rebuilt table %s with AUTOINCREMENT so ids are never reused (%d rows kept, "
                 "next id above %d)", model._meta.table_name, rows, top)


def _has_autoincrement(table: str) -> bool:
    row = db.execute_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()
    return row is not None and bool(_AUTOINCREMENT.search(row[0]))


def _rebuild(model: Any) -> tuple[int, int]:
    table = model._meta.table_name
    aside = f"{table}__before_autoincrement"
    indexes = db.execute_sql("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                             "AND sql IS NOT NULL", (table,)).fetchall()
    for name, _ in indexes:
        db.execute_sql(f'DROP INDEX "{name}"')
    db.execute_sql(f'ALTER TABLE "{table}" RENAME TO "{aside}"')
    model.create_table(safe=False)
    columns = ", ".join(f'"{f.column_name}"' for f in model._meta.sorted_fields)
    db.execute_sql(f'INSERT INTO "{table}" ({columns}) SELECT {columns} FROM "{aside}"')  # noqa: S608 - names from the model
    key = model._meta.primary_key.column_name
    rows, top = db.execute_sql(f'SELECT count(*), coalesce(max("{key}"), 0) FROM "{aside}"').fetchone()  # noqa: S608
    db.execute_sql(f'DROP TABLE "{aside}"')
    present = {name for (name,) in db.execute_sql("SELECT name FROM sqlite_master WHERE type = 'index' "
                                                    "AND tbl_name = ?", (table,))}
    for name, sql in indexes:
        if name not in present:  # an index added by hand, not declared on the model
            db.execute_sql(sql)
    return rows, top
