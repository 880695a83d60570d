"""Amounts survive the database exactly, on SQLite and PostgreSQL; the ledger refuses overdrafts."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.domain.ledger import HOUSE_GENESIS, transfer, user_free
from app.persistence.db import db, init_database, write_transaction
from app.persistence.models import Balance, Order
from app.persistence.store import LedgerError, ledger_sums, post_entries


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
