"""The CFD desk's read side for the API and WebSocket snapshots: the database projection with live
mark and unrealized PnL (`rules.mark_and_upnl`) at the prices given, always scoped to one user."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.cfd.render import cfd_position_json
from app.money import to_str
from app.persistence import cfd_projection
from app.persistence.cfd_projection import cfd_balance

Quotes = dict[str, tuple[Decimal, Decimal]]  # symbol -> (bid, ask)


def cfd_positions(user_id: int, status: str, quotes: Quotes) -> list[dict[str, Any]]:
    rows = cfd_projection.positions(user_id, open_=status == "open")
    return [cfd_position_json(r, *quotes.get(r.symbol, (None, None))) for r in rows]


def cfd_position(user_id: int, position_id: int, quotes: Quotes) -> dict[str, Any] | None:
    row = cfd_projection.position(user_id, position_id)
    return None if row is None else cfd_position_json(row, *quotes.get(row.symbol, (None, None)))


def open_cfd_positions(user_id: int) -> list[dict[str, Any]]:
    """A user's open positions without prices (the snapshot: the browser adds live PnL from ticks)."""
    return [cfd_position_json(r) for r in cfd_projection.open_positions(user_id)]


def cfd_account(user_id: int, quotes: Quotes) -> dict[str, str]:
    """Balance (free margin), used margin, unrealized PnL and equity at the current prices."""
    balance = cfd_balance(user_id)
    used = open_pnl = Decimal(0)
    for p in cfd_positions(user_id, "open", quotes):
        used += Decimal(p["margin"])
        open_pnl += Decimal(p.get("unrealizedPnl", "0"))
    return {"asset": "USDT", "balance": to_str(balance), "usedMargin": to_str(used),
            "unrealizedPnl": to_str(open_pnl), "equity": to_str(balance + used + open_pnl),
            "freeMargin": to_str(balance)}
