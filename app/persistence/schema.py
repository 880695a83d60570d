"""Start-up schema work: bind the database and apply pending migrations, backing an SQLite file up first.

The migrations themselves (the baseline, which also adopts a database from before migrations, and
every later change) are in app/persistence/migrations/.
"""

from __future__ import annotations

import logging
from pathlib import Path

from peewee import Database, SqliteDatabase

from app.persistence.backup import backup_sqlite, default_backup_path
from app.persistence.db import bind_database, db, open_database
from app.persistence.migrations import Migration, apply_pending

log = logging.getLogger(__name__)


def connect_database(url: str) -> Database:
    """Bind the proxy to `url` without touching the schema (`db status` reads it as it is)."""
    database = open_database(url)
    bind_database(database)
    return database


def sqlite_file(database: Database) -> Path | None:
    """The file of an SQLite database (None for PostgreSQL or an in-memory one)."""
    if isinstance(database, SqliteDatabase) and database.database != ":memory:":
        return Path(database.database)
    return None


def init_database(url: str, backup: bool = True) -> Database:
    """Bind the proxy to `url` and apply pending migrations (an SQLite file with tables is backed up first)."""
    database = connect_database(url)
    with db.connection_context():
        migrate_schema(database, backup)
    return database


def migrate_schema(database: Database, backup: bool = True) -> list[Migration]:
    """Apply what is pending on the bound, connected database; returns what this call applied.

    An upgrade of a database that had tables is logged at INFO; creating a new one is not news (the
    start-up says one line), so DEBUG.
    """
    upgrade = bool(db.get_tables())
    applied = apply_pending(lambda todo: _backup_before(database, todo) if backup else None)
    for migration in applied:
        log.log(logging.INFO if upgrade else logging.DEBUG, "database: applied migration %s", migration.label)
    return applied


def _backup_before(database: Database, todo: list[Migration]) -> None:
    """An online copy of an SQLite file before its schema changes; a new, empty file needs none."""
    path = sqlite_file(database)
    if path is None or not db.get_tables():
        return
    target = default_backup_path(path, f"before-{todo[0].label}")
    size = backup_sqlite(path, target)
    log.info("database: backed up %s to %s (%d bytes) before migrating", path, target, size)
