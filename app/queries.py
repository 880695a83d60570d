"""Read-side queries for the API and WebSocket snapshots, always scoped to one user."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.cfd.queries import open_cfd_positions
from app.domain.orders import CANCELABLE
from app.persistence.exchange import exchange_balances
from app.persistence.ledger import balance_json, user_balances
from app.persistence.orders import fills_of, order_by_id, user_orders
from app.persistence.positions import user_positions
from app.render import order_json, position_json


def list_orders(user_id: int, status: str | None, symbol: str | None, limit: int,
                before_id: int | None) -> dict[str, Any]:
    if status == "OPEN":
        statuses = [s.value for s in CANCELABLE]
    else:
        statuses = [status] if status else None
    rows = user_orders(user_id, statuses, symbol, limit + 1, before_id)
    more = len(rows) > limit
    rows = rows[:limit]
    fills = fills_of([r.id for r in rows])
    return {"orders": [order_json(r, fills.get(r.id, [])) for r in rows],
            "nextCursor": rows[-1].id if more and rows else None}


def get_order(user_id: int, order_id: int) -> dict[str, Any] | None:
    row = order_by_id(order_id, user_id)
    if row is None:
        return None
    return order_json(row, fills_of([row.id]).get(row.id, []))


def balances(user_id: int, venue: str) -> list[dict[str, str]]:
    """Free and locked per asset: Troupe's ledger, or (EXCHANGE=binance) the exchange account."""
    if venue != "binance":
        return user_balances(user_id)
    return [balance_json(r.asset, r.free, r.locked) for r in exchange_balances(user_id)]


def positions(user_id: int, marks: dict[str, Decimal], venue: str = "simulator") -> list[dict[str, Any]]:
    """Per base asset. With EXCHANGE=binance the quantity is what the exchange account holds; the
    average entry and realized PnL come from the fills Troupe recorded."""
    rows = user_positions(user_id)
    if venue != "binance":
        return [position_json(a, r.quantity, r.avg_entry, r.realized_pnl, marks.get(a))
                for a, r in sorted(rows.items())]
    held = {b.asset: b.free + b.locked for b in exchange_balances(user_id)}
    out = []
    for asset in sorted((set(held) & set(marks)) | set(rows)):
        row = rows.get(asset)
        qty = held.get(asset, Decimal(0))
        entry = row.avg_entry if row is not None and row.quantity > 0 else marks.get(asset, Decimal(0))
        out.append(position_json(asset, qty, entry, row.realized_pnl if row else Decimal(0), marks.get(asset)))
    return out


def snapshot(user_id: int, marks: dict[str, Decimal], venue: str = "simulator") -> dict[str, Any]:
    """Everything a (re)connecting browser needs to draw the account from scratch."""
    return {
        "openOrders": list_orders(user_id, "OPEN", None, 200, None)["orders"],
        "recentOrders": list_orders(user_id, None, None, 50, None)["orders"],
        "balances": balances(user_id, venue),
        "positions": positions(user_id, marks, venue),
        "cfdPositions": open_cfd_positions(user_id),
    }
