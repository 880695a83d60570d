"""Ordered schema migrations and the small runner that applies them (issue 13).

Each migration is a module `mNNNN_<name>.py` here with `NAME` and `apply()`; `schema_version` holds
one row per applied migration. Every migration runs in its own write transaction together with the
row that records it (DDL is transactional on SQLite and PostgreSQL), after a lock that queues other
processes starting at the same moment (SQLite's writer lock, a PostgreSQL advisory lock), so a crash
or a race leaves either the migration and its row, or neither.

Why a runner of our own rather than yoyo-migrations or peewee-migrate: it runs on the connection,
the SQLite writer lock and the transaction helper every other write uses (yoyo opens its own
connections, outside the writer lock), migrations are plain peewee/playhouse code on both backends
(no SQL dialect per backend to keep in step), and it is about a hundred lines with no dependency.

The rule: a schema change is a new migration appended to MIGRATIONS (with its model change), never
an ad-hoc ALTER at start-up; tests/integration/persistence/test_migrations.py fails when the models and the
migrated schema disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from peewee import BigIntegerField, CharField, IntegerField, Model, PostgresqlDatabase

from app.clock import now_ms
from app.persistence.db import db, write_transaction
from app.persistence.migrations import (
    m0001_baseline,
    m0002_master_key_seal,
    m0003_order_api_key_id,
    m0004_order_replaces,
    m0005_deployment_fact,
)

VERSION_TABLE = "schema_version"
_PG_LOCK_KEY = 0x7472_6F75_7065  # "troupe": the advisory lock migrations queue on


class SchemaVersion(Model):
    version = IntegerField(primary_key=True)
    name = CharField(max_length=100)
    applied_at = BigIntegerField()

    class Meta:
        database = db
        table_name = VERSION_TABLE


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    apply: Callable[[], None]

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


MIGRATIONS: tuple[Migration, ...] = tuple(
    Migration(n, module.NAME, module.apply)
    for n, module in enumerate((m0001_baseline, m0002_master_key_seal, m0003_order_api_key_id,
                                      m0004_order_replaces, m0005_deployment_fact), start=1)
)
LATEST = MIGRATIONS[-1].version


class SchemaTooNew(Exception):
    """The database was migrated by a newer Troupe than this one."""


def applied_versions() -> list[int]:
    """The versions recorded in `schema_version` (none for a new or pre-migration database)."""
    if not db.table_exists(VERSION_TABLE):
        return []
    return [r.version for r in SchemaVersion.select(SchemaVersion.version).order_by(SchemaVersion.version)]


def current_version() -> int:
    """The highest applied version; 0 before the baseline."""
    return max(applied_versions(), default=0)


def pending() -> list[Migration]:
    """The migrations not applied yet, in order; raises SchemaTooNew for a database ahead of the code."""
    done = set(applied_versions())
    if done and max(done) > LATEST:
        raise SchemaTooNew(f"the database is at schema version {max(done)}, this Troupe knows up to {LATEST}: "
                           f"run a newer Troupe (or restore a backup)")
    return [m for m in MIGRATIONS if m.version not in done]


def apply_pending(before: Callable[[list[Migration]], None] | None = None) -> list[Migration]:
    """Apply every pending migration in order; `before(todo)` runs first (the backup) when there are any.

    Returns the migrations this call applied (another process may have applied some meanwhile).
    """
    todo = pending()
    if not todo:
        return []
    if before is not None:
        before(todo)
    applied: list[Migration] = []
    for migration in todo:
        with write_transaction():
            if isinstance(db.obj, PostgresqlDatabase):
                db.execute_sql("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK_KEY,))
            db.create_tables([SchemaVersion], safe=True)
            if SchemaVersion.get_or_none(SchemaVersion.version == migration.version) is not None:
                continue  # another process applied it while this one waited for the lock
            migration.apply()
            SchemaVersion.insert(version=migration.version, name=migration.name, applied_at=now_ms()).execute()
        applied.append(migration)
    return applied
