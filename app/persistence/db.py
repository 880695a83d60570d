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

from peewee import Database, DatabaseProxy, PostgresqlDatabase, SqliteDatabase
from playhouse.db_url import connect

db = DatabaseProxy()
log = logging.getLogger(__name__)


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


def bind_database(database: Database) -> None:
    """Point the proxy at `database` (and SQLite writers at its lock file); schema.py creates the tables."""
    db.initialize(database)
    if isinstance(database, SqliteDatabase):
        _sqlite_writer.bind(database.database)


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


def ping() -> None:
    """`SELECT 1` on this thread's connection: the database answers."""
    db.execute_sql("SELECT 1").fetchone()

