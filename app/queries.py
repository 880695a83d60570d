"""Read-side queries for the API and WebSocket snapshots, always scoped to one user."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.domain import cfd
from app.domain.cfd import Direction
from app.domain.orders import OPEN, OrderStatus
from app.money import ASSET_SCALE, to_str, to_str_or_none
from app.persistence.cfd_projection import cfd_balance
from app.persistence.exchange import exchange_balances
from app.persistence.ledger import balance_json, user_balances
from app.persistence.models import CfdPosition
from app.persistence.orders import fills_of, order_by_id, user_orders
from app.persistence.positions import user_positions
from app.schemas import order_json, position_json


def list_orders(user_id: int, status: str | None, symbol: str | None, limit: int,
                before_id: int | None) -> dict[str, Any]:
    if status == "OPEN":
        statuses = [OrderStatus.PENDING.value, OrderStatus.UNKNOWN.value, *(s.value for s in OPEN)]
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
        "cfdPositions": [cfd_position_json(r) for r in CfdPosition.select().where(
            (CfdPosition.user_id == user_id) & (CfdPosition.status == "OPEN")).order_by(CfdPosition.id)],
    }


# --- the CFD desk (projections written by the executors) ----------------------------------------------
def cfd_position_json(row: CfdPosition, bid: Decimal | None = None, ask: Decimal | None = None) -> dict[str, Any]:
    """A position as the API shows it; an open one with live PnL when a price is given."""
    data: dict[str, Any] = {
        "id": row.id, "symbol": row.symbol, "direction": row.direction, "status": row.status,
        "margin": to_str(row.margin), "leverage": to_str(row.leverage), "entryPrice": to_str(row.entry_price),
        "quantity": to_str(row.quantity), "liquidationPrice": to_str(row.liquidation_price),
        "stopLossPrice": to_str_or_none(row.stop_loss), "takeProfitPrice": to_str_or_none(row.take_profit),
        "openFee": to_str(row.open_fee), "exitPrice": to_str_or_none(row.exit_price),
        "realizedPnl": to_str_or_none(row.pnl), "closeFee": to_str_or_none(row.close_fee),
        "payout": to_str_or_none(row.payout), "openedAt": row.opened_at, "closedAt": row.closed_at,
        "version": row.version,
    }
    if row.status == "OPEN" and bid is not None and ask is not None:
        direction = Direction(row.direction)
        price = cfd.close_price(direction, bid, ask)
        data["markPrice"] = to_str(price)
        data["unrealizedPnl"] = to_str(cfd.upnl(direction, row.entry_price, row.quantity, price).quantize(ASSET_SCALE))
    return data


def cfd_positions(user_id: int, status: str, quotes: dict[str, tuple[Decimal, Decimal]]) -> list[dict[str, Any]]:
    q = CfdPosition.select().where(CfdPosition.user_id == user_id)
    q = q.where(CfdPosition.status == "OPEN") if status == "open" else q.where(CfdPosition.status != "OPEN")
    rows = q.order_by(CfdPosition.opened_at.desc(), CfdPosition.id.desc()).limit(200)
    return [cfd_position_json(r, *quotes.get(r.symbol, (None, None))) for r in rows]


def cfd_position(user_id: int, position_id: int, quotes: dict[str, tuple[Decimal, Decimal]]) -> dict[str, Any] | None:
    row = CfdPosition.get_or_none((CfdPosition.id == position_id) & (CfdPosition.user_id == user_id))
    return None if row is None else cfd_position_json(row, *quotes.get(row.symbol, (None, None)))


def cfd_account(user_id: int, quotes: dict[str, tuple[Decimal, Decimal]]) -> dict[str, str]:
    """Balance (free margin), used margin, unrealized PnL and equity at the current prices."""
    balance = cfd_balance(user_id)
    used = open_pnl = Decimal(0)
    for p in cfd_positions(user_id, "open", quotes):
        used += Decimal(p["margin"])
        open_pnl += Decimal(p.get("unrealizedPnl", "0"))
    return {"asset": "USDT", "balance": to_str(balance), "usedMargin": to_str(used),
            "unrealizedPnl": to_str(open_pnl), "equity": to_str(balance + used + open_pnl),
            "freeMargin": to_str(balance)}
