"""Read-side queries for the API and WebSocket snapshots, always scoped to one user."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.cfd.queries import open_cfd_positions
from app.cfd.render import cfd_position_json
from app.cfd.rules import Direction
from app.domain.orders import CANCELABLE
from app.history import (
    INTERVALS,
    CfdHolding,
    Valuation,
    daily_pnl,
    downsample,
    epoch_of,
    fill_history_json,
    holdings_of,
    reset_json,
    valuation,
)
from app.money import to_str
from app.persistence import cfd_projection
from app.persistence.equity import last_point_before, resets_of
from app.persistence.equity import points as equity_points
from app.persistence.exchange import exchange_balances
from app.persistence.history import cfd_page, fills_page, orders_page
from app.persistence.ledger import balance_json, user_balances
from app.persistence.orders import fills_of, order_by_id, user_orders
from app.persistence.positions import user_positions
from app.render import order_json, position_json


def list_orders(user_id: int, status: str | None, symbol: str | None, limit: int,
                before_id: int | None, side: str | None = None, start: int | None = None,
                end: int | None = None) -> dict[str, Any]:
    if status == "OPEN":
        statuses = [s.value for s in CANCELABLE]
    else:
        statuses = [status] if status else None
    rows = user_orders(user_id, statuses, symbol, limit + 1, before_id, side, start, end)
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


# --- history: fills, exports, the equity curve, daily PnL ----------------------------------------------
def _reset_times(user_id: int) -> list[int]:
    return [r.at for r in resets_of(user_id)]


def list_fills(user_id: int, symbol: str | None, start: int | None, end: int | None, limit: int,
               before_id: int | None) -> dict[str, Any]:
    """A page of the user's fills, newest first; each says which reset epoch it belongs to."""
    times = _reset_times(user_id)
    rows = fills_page(user_id, symbol, start, end, limit + 1, before_id)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"fills": [fill_history_json(f, sym, side, epoch_of(f.created_at, times)) for f, sym, side in rows],
            "nextCursor": rows[-1][0].id if more and rows else None}


def export_page(kind: str, user_id: int, symbol: str | None, start: int | None, end: int | None, limit: int,
                before_id: int | None) -> tuple[list[dict[str, Any]], int | None]:
    """One page of an export (`fills`, `orders` or `cfd`) as the API's JSON rows, and the cursor of the next."""
    if kind == "fills":
        page = list_fills(user_id, symbol, start, end, limit, before_id)
        return page["fills"], page["nextCursor"]
    times = _reset_times(user_id)
    if kind == "orders":
        orders = orders_page(user_id, symbol, start, end, limit, before_id)
        items = [{**order_json(r), "epoch": epoch_of(r.created_at, times)} for r in orders]
        return items, orders[-1].id if len(orders) == limit else None
    positions = cfd_page(user_id, symbol, start, end, limit, before_id)
    items = [{**cfd_position_json(p), "epoch": epoch_of(p.opened_at, times)} for p in positions]
    return items, positions[-1].id if len(positions) == limit else None


def current_valuation(user_id: int, marks: dict[str, Decimal], quotes: dict[str, tuple[Decimal, Decimal]],
                      venue: str) -> Valuation:
    """The user's equity now, from the database and the latest prices (what the curve's next point will say)."""
    rows = [(b["asset"], Decimal(b["free"]), Decimal(b["locked"])) for b in balances(user_id, venue)]
    held = [CfdHolding(p.symbol, Direction(p.direction), p.entry_price, p.quantity, p.margin)
            for p in cfd_projection.open_positions(user_id)]
    return valuation(holdings_of(rows), marks, cfd_projection.cfd_balance(user_id), held, quotes)


def equity_curve(user_id: int, start: int, end: int, interval: str) -> dict[str, Any]:
    """The recorded points in [start, end), downsampled to `interval` (`app.history.downsample`), and the
    account's resets, which mark where a fresh start begins."""
    points = downsample(equity_points(user_id, start, end), INTERVALS[interval])
    return {"interval": interval, "from": start, "to": end,
            "points": [{"time": p.at, "equity": to_str(p.equity), "flow": to_str(p.flow), "reason": p.reason}
                       for p in points],
            "resets": [reset_json(r)["reset"] for r in resets_of(user_id)]}


def pnl_daily(user_id: int, start: int, end: int) -> dict[str, Any]:
    """PnL per UTC day in [start, end) from the recorded points (`app.history.daily_pnl`)."""
    days = daily_pnl(equity_points(user_id, start, end), last_point_before(user_id, start))
    return {"days": [{"date": d.day, "open": to_str(d.open), "close": to_str(d.close), "flows": to_str(d.flows),
                      "pnl": to_str(d.pnl)} for d in days]}
