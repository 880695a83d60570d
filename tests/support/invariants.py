"""Global invariants checked after scenarios: the ledger sums exactly and nothing is stuck."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from app.domain.orders import TERMINAL, OrderStatus
from app.persistence.db import db
from app.persistence.ledger import ledger_sums
from app.persistence.models import Balance, Fill, LedgerRow, Order
from app.persistence.schema import init_database


def check_ledger() -> None:
    """I1: every balance equals the exact sum of its ledger rows; every reference balances per asset;
    I2: no user balance is negative."""
    sums = ledger_sums()
    balances = {(b.account, b.asset): b.amount for b in Balance.select()}
    assert balances == {k: v for k, v in sums.items() if k in balances}
    assert set(sums) == set(balances)
    per_asset: dict[str, Decimal] = {}
    for (_account, asset), amount in sums.items():
        per_asset[asset] = per_asset.get(asset, Decimal(0)) + amount
    assert all(v == 0 for v in per_asset.values()), per_asset
    for (account, asset), amount in balances.items():
        if account.startswith("user:"):
            assert amount >= 0, (account, asset, amount)
    refs: dict[tuple[str, str, str], Decimal] = {}
    for row in LedgerRow.select():
        key = (row.ref_type, row.ref_id, row.asset)
        refs[key] = refs.get(key, Decimal(0)) + row.delta
    assert all(v == 0 for v in refs.values())


def check_orders(allow_open: bool = True) -> None:
    """I3: executed quantity equals the sum of fills; terminal orders hold no locked funds."""
    for order in Order.select():
        fills = list(Fill.select().where(Fill.order_id == order.id))
        assert sum((f.qty for f in fills), Decimal(0)) == order.executed_qty
        assert len(fills) == order.fill_count
        status = OrderStatus(order.status)
        if status in TERMINAL:
            assert order.locked == 0
        if status is OrderStatus.FILLED and order.quantity is not None:
            assert order.executed_qty == order.quantity
        if not allow_open:
            assert status is not OrderStatus.PENDING


@contextmanager
def server_books(data_dir: Path, allow_pending: bool = False) -> Iterator[None]:
    """Open a stopped server's SQLite database; on a clean exit check the ledger and the orders.

    `allow_pending`: orders accepted just before the stop may not have run yet (they are durable
    and run on the next start).
    """
    init_database(f"sqlite:///{data_dir / 'troupe.db'}")
    try:
        yield
        check_ledger()
        check_orders(allow_open=allow_pending)
    finally:
        db.close()
