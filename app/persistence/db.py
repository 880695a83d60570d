"""The one database entry point: a proxy bound at start-up to SQLite or PostgreSQL.

peewee keeps one connection per thread, which matches pykka's thread-per-actor model: each actor
opens its own connection and closes it when it stops. Never query from the aiohttp loop thread.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from peewee import (
    SQL,
    AutoField,
    Context,
    Database,
    DatabaseProxy,
    NodeList,
    PostgresqlDatabase,
    SqliteDatabase,
    TextField,
)
from playhouse.db_url import connect
from playhouse.migrate import SchemaMigrator, migrate

from app.money import to_str

db = DatabaseProxy()
log = logging.getLogger(__name__)


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


def open_database(url: str, connect_timeout_s: int | None = None) -> Database:
    """Create (but do not connect) the database for `url`; `connect_timeout_s` bounds a server connect."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):] or ":memory:"
        return SqliteDatabase(
            path,
            pragmas={"busy_timeout": 15000, "journal_mode": "wal", "synchronous": "full",
                     "foreign_keys": 1, "cache_size": -16000},
            lock_type="IMMEDIATE",
            check_same_thread=False,
        )
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    database = connect(url) if connect_timeout_s is None else connect(url, connect_timeout=connect_timeout_s)
    if not isinstance(database, PostgresqlDatabase):
        raise ValueError(f"unsupported DATABASE_URL scheme in {url.split(':', 1)[0]!r}")
    return database


def probe_database(url: str, timeout_s: int) -> None:
    """Connect and `SELECT 1`, so an unreachable database is reported before anything starts."""
    database = open_database(url, connect_timeout_s=timeout_s)
    database.connect()
    try:
        database.execute_sql("SELECT 1")
    finally:
        database.close()


def init_database(url: str) -> Database:
    """Bind the proxy to `url`, create any missing tables and bring older ones up to date."""
    from app.persistence.autoincrement import adopt_autoincrement
    from app.persistence.models import ALL_MODELS

    database = open_database(url)
    db.initialize(database)
    if isinstance(database, SqliteDatabase):
        _sqlite_writer.bind(database.database)
    with db.connection_context():
        db.create_tables(ALL_MODELS, safe=True)
        _add_missing_columns(ALL_MODELS)
        adopt_autoincrement(ALL_MODELS)
    return database


def _add_missing_columns(models: list[Any]) -> None:
    """Columns added to a model after its table was created (all nullable) are added in place."""
    for model in models:
        table = model._meta.table_name
        present = {c.name for c in db.get_columns(table)}
        missing = [f for f in model._meta.sorted_fields if f.column_name not in present]
        if missing:
            migrator = SchemaMigrator.from_database(db.obj)
            migrate(*(migrator.add_column(table, f.column_name, f) for f in missing))
            log.info("database: added column(s) %s to %s", ", ".join(f.column_name for f in missing), table)


class _WriterLock:
    """Queue SQLite writers on a lock instead of in SQLite's busy handler.

    SQLite has one writer at a time, and a writer that finds the database locked sleeps in steps
    of up to 100 ms. Writer threads of one process queue on a thread lock, and processes sharing
    the database on an flock of `<database>.writer-lock`; both hand over in microseconds.
    """

    def __init__(self) -> None:
        self._thread_lock = threading.RLock()
        self._fd: int | None = None
        self._path = ""
        self._depth = 0

    def bind(self, database_path: str) -> None:
        with self._thread_lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            self._path = "" if database_path == ":memory:" else database_path + ".writer-lock"

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._thread_lock:
            if self._path and self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            outermost = self._depth == 0 and self._fd is not None
            if outermost:
                fcntl.flock(self._fd, fcntl.LOCK_EX)  # type: ignore[arg-type]
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if outermost:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)  # type: ignore[arg-type]


_sqlite_writer = _WriterLock()


@contextmanager
def write_transaction() -> Iterator[None]:
    """A write transaction: BEGIN IMMEDIATE on SQLite, so a read-then-write never deadlocks."""
    if isinstance(db.obj, SqliteDatabase):
        with _sqlite_writer.held(), db.atomic():
            yield
    else:
        with db.atomic():
            yield


def is_postgres() -> bool:
    return isinstance(db.obj, PostgresqlDatabase)
