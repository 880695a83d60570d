"""Schema migrations: the models and the migrated schema agree (SQLite and PostgreSQL), the version is
recorded, and a database made by the commit before migrations (82e4bfe) comes through with every
order, fill and balance intact and its ledger still summing to zero per asset."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from peewee import ModelIndex

from app.persistence.db import db
from app.persistence.ledger import ledger_sums
from app.persistence.migrations import (
    LATEST,
    MIGRATIONS,
    VERSION_TABLE,
    SchemaTooNew,
    SchemaVersion,
    applied_versions,
    pending,
)
from app.persistence.models import ALL_MODELS, Balance, Fill, Order
from app.persistence.schema import connect_database, init_database, migrate_schema
from tests.support.helpers import OLD_DATABASE


def _model_indexes(model: Any) -> set[tuple[tuple[str, ...], bool]]:
    out = set()
    for index in model._meta.fields_to_index():
        assert isinstance(index, ModelIndex)
        columns = tuple(f.column_name for f in index._expressions)
        out.add((columns, bool(index._unique)))
    return out


def _table_indexes(table: str, primary: set[str]) -> set[tuple[tuple[str, ...], bool]]:
    """The table's indexes but the primary key's own (PostgreSQL's `_pkey`, SQLite's autoindex)."""
    found = {(tuple(i.columns), bool(i.unique)) for i in db.get_indexes(table)}
    return {i for i in found if not (i[1] and set(i[0]) == primary)}


def test_the_migrated_schema_is_exactly_the_models(migrated: str) -> None:
    """Migrate an empty database and compare it with every model: a model change without a migration
    (or a migration without its model change) fails here."""
    tables = {t for t in db.get_tables() if not t.startswith("sqlite_")}
    assert tables == {m._meta.table_name for m in ALL_MODELS} | {VERSION_TABLE}
    for model in ALL_MODELS:
        table = model._meta.table_name
        columns = {c.name: c for c in db.get_columns(table)}
        fields = {f.column_name: f for f in model._meta.sorted_fields}
        assert set(columns) == set(fields), table
        for name, field in fields.items():
            if not field.primary_key:
                assert columns[name].null == field.null, f"{table}.{name} nullability"
        keys = {c.name for c in columns.values() if c.primary_key}
        assert keys == {f.column_name for f in model._meta.get_primary_keys()}, table
        assert _table_indexes(table, keys) == _model_indexes(model), f"{table} indexes"


def test_each_migration_is_recorded_once(migrated: str) -> None:
    assert applied_versions() == [m.version for m in MIGRATIONS] == list(range(1, LATEST + 1))
    assert pending() == []
    db.close()
    init_database(migrated)  # a second start applies nothing
    assert applied_versions() == list(range(1, LATEST + 1))


def test_a_database_ahead_of_the_code_is_refused(migrated: str) -> None:
    SchemaVersion.insert(version=LATEST + 1, name="future", applied_at=0).execute()
    with pytest.raises(SchemaTooNew, match=f"schema version {LATEST + 1}"):
        pending()


def _rows(path: Path, table: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
        return conn.execute(f'SELECT {", ".join(chr(34) + c + chr(34) for c in columns)} FROM "{table}" '  # noqa: S608
                            f'ORDER BY 1, 2').fetchall()


def test_the_database_of_commit_82e4bfe_is_migrated_intact(tmp_path: Path) -> None:
    path = tmp_path / "troupe.db"
    shutil.copy(OLD_DATABASE, path)
    with sqlite3.connect(path) as conn:
        old_tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                                 "AND name NOT LIKE 'sqlite_%'")]
    before = {t: _rows(path, t) for t in old_tables}
    assert len(before["order"]) == 10 and len(before["fill"]) == 6 and before["balance"]

    connect_database(f"sqlite:///{path}")
    try:
        assert applied_versions() == [] and [m.version for m in pending()] == list(range(1, LATEST + 1))
    finally:
        db.close()
    init_database(f"sqlite:///{path}")
    try:
        assert applied_versions() == list(range(1, LATEST + 1))
        for table, rows in before.items():  # every old column of every old row, byte for byte
            with sqlite3.connect(path) as conn:
                old_columns = [r[1] for r in sqlite3.connect(OLD_DATABASE).execute(f'PRAGMA table_info("{table}")')]
                now = conn.execute(f'SELECT {", ".join(chr(34) + c + chr(34) for c in old_columns)} '  # noqa: S608
                                   f'FROM "{table}" ORDER BY 1, 2').fetchall()
            assert now == rows, table
        orders = list(Order.select().order_by(Order.id))
        assert [o.status for o in orders].count("FILLED") == 6 and all(o.triggered is False for o in orders)
        assert sum((f.qty for f in Fill.select()), Decimal(0)) > 0
        sums = ledger_sums()
        for asset in {a for _, a in sums}:
            assert sum((v for (_, a), v in sums.items() if a == asset), Decimal(0)) == 0, asset
        cached = {(b.account, b.asset): b.amount for b in Balance.select()}
        assert cached and all(sums[key] == amount for key, amount in cached.items())  # the cache is the ledger
        assert all(key in cached for key, total in sums.items() if total)
    finally:
        db.close()
    backups = list((tmp_path / "backups").iterdir())
    assert len(backups) == 1 and backups[0].name.startswith("troupe-before-0001_baseline-")
    assert {t: _rows(backups[0], t) for t in old_tables} == before  # the copy made before migrating


def test_a_new_database_needs_no_backup(tmp_path: Path) -> None:
    init_database(f"sqlite:///{tmp_path / 'troupe.db'}")
    db.close()
    assert not (tmp_path / "backups").exists()


def test_nodes_starting_together_apply_each_migration_once(database_url: str) -> None:
    """Two threads (each its own connection, as two nodes would have) migrate one empty database at once:
    the lock queues them, each migration is applied by exactly one, and neither fails."""
    connect_database(database_url)
    barrier = threading.Barrier(2)
    applied: list[list[int]] = []
    errors: list[BaseException] = []

    def node() -> None:
        try:
            with db.connection_context():
                barrier.wait(10)
                applied.append([m.version for m in migrate_schema(db.obj, backup=False)])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=node) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(v for versions in applied for v in versions) == list(range(1, LATEST + 1))
    with db.connection_context():
        assert applied_versions() == list(range(1, LATEST + 1))
    db.close()
