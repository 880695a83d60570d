"""Online SQLite backups with sqlite3's backup API: a consistent copy while servers keep writing.

The copy is written beside its destination and renamed into place after an fsync, so a crash never
leaves a half-written file under the backup's name. PostgreSQL is backed up with pg_dump instead.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from app.durable import fsync_dir

BACKUP_DIR = "backups"  # beside the database file


def default_backup_path(database: Path, tag: str = "") -> Path:
    """`<dir of the database>/backups/<name>-<tag->YYYYmmddTHHMMSSffffffZ.db`."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return database.parent / BACKUP_DIR / f"{database.stem}-{tag + '-' if tag else ''}{stamp}.db"


def backup_sqlite(database: Path, destination: Path) -> int:
    """Copy the live database at `database` to `destination` (WAL content included); returns its size."""
    if not database.exists():
        raise FileNotFoundError(f"no SQLite database at {database}")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    source = sqlite3.connect(database, timeout=15)
    try:
        target = sqlite3.connect(partial)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()
    fd = os.open(partial, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(partial, destination)
    fsync_dir(destination.parent)
    return destination.stat().st_size

