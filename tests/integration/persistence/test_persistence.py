"""Amounts survive the database exactly, on SQLite and PostgreSQL; the ledger refuses overdrafts."""

from __future__ import annotations

import ast
import logging
import re
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from peewee import AutoField

from app.domain.ledger import HOUSE_GENESIS, transfer, user_free
from app.persistence.db import db, write_transaction
from app.persistence.fields import IdField
from app.persistence.ledger import LedgerError, ledger_sums, post_entries
from app.persistence.models import ALL_MODELS, Balance, Order, User
from app.persistence.orders import ORDER_FIELDS, insert_order, order_by_client_id, order_by_id
from app.persistence.schema import init_database


@pytest.fixture
def database(database_url: str) -> Iterator[None]:
    init_database(database_url)
    yield
    db.close()


amounts = st.decimals(min_value=Decimal(0), max_value=Decimal(10) ** 12, places=18, allow_nan=False,
                      allow_infinity=False)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=amounts)
def test_money_round_trips_exactly(database: None, value: Decimal) -> None:
    with write_transaction():
        row = Order.create(user_id=1, client_order_id=f"c{Order.select().count()}", symbol="BTCUSDT", side="BUY",
                           type="LIMIT", status="NEW", quantity=value, price=value, executed_qty=value,
                           cumm_quote_qty=value, locked=value)
    back = Order.get_by_id(row.id)
    assert back.quantity == value and back.locked == value and isinstance(back.locked, Decimal)


def test_the_fast_path_reads_and_writes_every_column_of_the_order_model(database: None) -> None:
    """The hand-written SQL takes its column list from the model: a new field is read and written too."""
    fields = Order._meta.sorted_fields
    assert ORDER_FIELDS == tuple(f.column_name for f in fields) == tuple(f.name for f in fields)
    values = {"user_id": 7, "client_order_id": "fast", "symbol": "BTCUSDT", "side": "SELL", "type": "STOP_LOSS_LIMIT",
              "time_in_force": "GTC", "quantity": Decimal("0.12345678"), "quote_order_qty": None,
              "price": Decimal("65000.5"), "status": "NEW", "executed_qty": Decimal("0.1"),
              "cumm_quote_qty": Decimal("6500.05"), "locked": Decimal("0.02345678"), "fill_count": 3,
              "reject_reason": None, "created_at": 1, "updated_at": 2, "version": 4, "exchange_sent_at": 5,
              "exchange_order_id": 6, "stop_price": Decimal("64000"), "trailing_delta": 150,
              "trail_extreme": Decimal("66000.25"), "triggered": True, "order_list_id": 9,
              "api_key_id": 11, "replaces_order_id": 12}
    assert set(values) == set(ORDER_FIELDS) - {"id"}
    with write_transaction():
        order_id = insert_order(values)
    by_peewee = Order.get_by_id(order_id)
    fast = order_by_id(order_id)
    assert fast is not None and order_by_client_id(7, "fast") is not None
    assert order_by_id(order_id, user_id=8) is None
    for name in ORDER_FIELDS:
        assert getattr(fast, name) == getattr(by_peewee, name) == values.get(name, order_id), name
        assert type(getattr(fast, name)) is type(getattr(by_peewee, name)) or name == "triggered", name


def test_sqlite_decimal_column_would_have_lost_digits(database: None) -> None:
    """The reason MoneyField stores text: 19 significant digits come back intact."""
    value = Decimal("123456789012345678.12345678")
    with write_transaction():
        post_entries([transfer("t", "1", "deposit", "USDT", value, HOUSE_GENESIS, user_free(1))])
    assert Balance.get((Balance.account == user_free(1)) & (Balance.asset == "USDT")).amount == value
    assert ledger_sums()[(user_free(1), "USDT")] == value


def test_a_posting_that_overdraws_a_user_fails_the_whole_transaction(database: None) -> None:
    with write_transaction():
        post_entries([transfer("t", "1", "deposit", "USDT", Decimal("10"), HOUSE_GENESIS, user_free(1))])
    with pytest.raises(LedgerError), write_transaction():
        post_entries([transfer("t", "2", "withdraw", "USDT", Decimal("10.00000001"), user_free(1), HOUSE_GENESIS)])
    assert ledger_sums()[(user_free(1), "USDT")] == Decimal("10")


# The id tables exactly as main 6df38f3 created them: INTEGER PRIMARY KEY without AUTOINCREMENT.
MAIN_6DF38F3_SCHEMA = [
    'CREATE TABLE "user" ("id" INTEGER NOT NULL PRIMARY KEY, "email" VARCHAR(254) NOT NULL, "password_hash" '
    'VARCHAR(100) NOT NULL, "token_version" INTEGER NOT NULL, "created_at" INTEGER NOT NULL)',
    'CREATE UNIQUE INDEX "user_email" ON "user" ("email")',
    'CREATE TABLE "fill" ("id" INTEGER NOT NULL PRIMARY KEY, "order_id" INTEGER NOT NULL, "seq" INTEGER NOT NULL, '
    '"price" TEXT NOT NULL, "qty" TEXT NOT NULL, "quote_qty" TEXT NOT NULL, "commission" TEXT NOT NULL, '
    '"commission_asset" VARCHAR(10) NOT NULL, "created_at" INTEGER NOT NULL)',
    'CREATE UNIQUE INDEX "fill_order_id_seq" ON "fill" ("order_id", "seq")',
    'CREATE TABLE "ledger" ("id" INTEGER NOT NULL PRIMARY KEY, "account" VARCHAR(64) NOT NULL, "asset" VARCHAR(10) '
    'NOT NULL, "delta" TEXT NOT NULL, "kind" VARCHAR(16) NOT NULL, "ref_type" VARCHAR(16) NOT NULL, "ref_id" '
    'VARCHAR(64) NOT NULL, "leg" VARCHAR(16) NOT NULL, "created_at" INTEGER NOT NULL)',
    'CREATE UNIQUE INDEX "ledger_ref_type_ref_id_leg" ON "ledger" ("ref_type", "ref_id", "leg")',
    'CREATE INDEX "ledger_account_asset" ON "ledger" ("account", "asset")',
    'CREATE TABLE "order" ("id" INTEGER NOT NULL PRIMARY KEY, "user_id" INTEGER NOT NULL, "client_order_id" '
    'VARCHAR(36) NOT NULL, "symbol" VARCHAR(20) NOT NULL, "side" VARCHAR(4) NOT NULL, "type" VARCHAR(20) NOT NULL, '
    '"time_in_force" VARCHAR(3), "quantity" TEXT, "quote_order_qty" TEXT, "price" TEXT, "status" VARCHAR(20) NOT '
    'NULL, "executed_qty" TEXT NOT NULL, "cumm_quote_qty" TEXT NOT NULL, "locked" TEXT NOT NULL, "fill_count" '
    'INTEGER NOT NULL, "reject_reason" TEXT, "created_at" INTEGER NOT NULL, "updated_at" INTEGER NOT NULL, "version" '
    'INTEGER NOT NULL, "exchange_sent_at" INTEGER, "exchange_order_id" INTEGER, "stop_price" TEXT, "trailing_delta" '
    'INTEGER, "trail_extreme" TEXT, "triggered" INTEGER NOT NULL, "order_list_id" INTEGER)',
    'CREATE INDEX "order_user_id" ON "order" ("user_id")',
    'CREATE INDEX "order_status" ON "order" ("status")',
    'CREATE UNIQUE INDEX "order_user_id_client_order_id" ON "order" ("user_id", "client_order_id")',
    'CREATE INDEX "order_user_id_status" ON "order" ("user_id", "status")',
    'CREATE INDEX "order_by_hand" ON "order" ("symbol", "created_at")',  # one an operator added
]


def _table_sql(table: str) -> str:
    return db.execute_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone()[0]


def _indexes(table: str) -> set[tuple[str, str]]:
    return set(db.execute_sql("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
                              "AND sql IS NOT NULL", (table,)).fetchall())


def test_a_database_created_by_main_is_rebuilt_once_with_ids_never_reused(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "main.db"
    with sqlite3.connect(path) as legacy:
        for statement in MAIN_6DF38F3_SCHEMA:
            legacy.execute(statement)
        legacy.executemany('INSERT INTO "user" VALUES (?, ?, ?, 0, 1)',
                           [(i, f"u{i}@example.com", "h") for i in (1, 2, 3, 7)])
        legacy.execute('INSERT INTO "order" VALUES (5, 7, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, 0, NULL, 1, 1, 0, '
                       'NULL, NULL, NULL, NULL, NULL, 0, NULL)',
                       ("c5", "BTCUSDT", "BUY", "LIMIT", "GTC", "0.1", "100", "NEW", "0", "0", "10"))
        indexes_before = {t: {(name, sql) for name, sql in legacy.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (t,))}
            for t in
            ("user", "order", "fill", "ledger")}
        legacy.execute('DELETE FROM "user" WHERE id = 7')  # the newest row is gone: 7 cannot be known any more
    legacy.close()

    with caplog.at_level(logging.INFO, logger="app.persistence.autoincrement"):
        init_database(f"sqlite:///{path}")
    try:
        rebuilt = [r.getMessage() for r in caplog.records if "AUTOINCREMENT" in r.getMessage()]
        assert len(rebuilt) == 4 and any("table user " in m and "3 rows kept, next id above 3" in m for m in rebuilt)
        for table in ("user", "order", "fill", "ledger"):
            assert "PRIMARY KEY AUTOINCREMENT" in _table_sql(table)
            assert _indexes(table) == indexes_before[table]
        assert [(u.id, u.email) for u in User.select().order_by(User.id)] == [
            (1, "u1@example.com"), (2, "u2@example.com"), (3, "u3@example.com")]
        order = Order.get_by_id(5)
        assert (order.user_id, order.price, order.locked, order.status) == (7, Decimal(100), Decimal(10), "NEW")
        with write_transaction():
            User.delete().where(User.id == 3).execute()
            assert User.create(email="new@example.com", password_hash="h").id == 4  # above max(id), never 3
            assert Order.create(user_id=1, client_order_id="c6", symbol="BTCUSDT", side="BUY", type="MARKET",
                                status="PENDING", executed_qty=Decimal(0), cumm_quote_qty=Decimal(0),
                                locked=Decimal(0)).id == 6
    finally:
        db.close()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="app.persistence.autoincrement"):
        init_database(f"sqlite:///{path}")  # once: a second start rebuilds nothing
    db.close()
    assert not caplog.records


def test_new_databases_never_reuse_an_id(database: None) -> None:
    """On both databases: the newest row deleted, the next one still gets a higher id."""
    with write_transaction():
        first = User.create(email="a@example.com", password_hash="h").id
        User.delete().where(User.id == first).execute()
        assert User.create(email="b@example.com", password_hash="h").id > first


def test_every_generated_id_is_an_id_field() -> None:
    """A table added later with a plain AutoField would reuse ids on SQLite again."""
    generated = [m for m in ALL_MODELS if isinstance(m._meta.primary_key, AutoField)]
    assert generated and all(isinstance(m._meta.primary_key, IdField) for m in generated)


def test_every_hand_written_insert_writes_every_column_of_its_table() -> None:
    """The fast path's column lists are checked against the models, so a new field cannot be left out."""
    tables = {m._meta.table_name: m for m in ALL_MODELS}
    insert = re.compile(r'INSERT INTO "?(\w+)"? \(([^)]*)\)')
    seen = set()
    for path in sorted((Path(__file__).resolve().parents[3] / "app" / "persistence").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and (m := insert.search(node.value)):
                model = tables[m.group(1)]
                written = {c.strip() for c in m.group(2).split(",")}
                generated = {f.column_name for f in model._meta.sorted_fields if isinstance(f, AutoField)}
                assert written == {f.column_name for f in model._meta.sorted_fields} - generated, m.group(0)
                seen.add(m.group(1))
    assert seen >= {"ledger", "balance", "fill", "position", "outbox", "inbox"}
