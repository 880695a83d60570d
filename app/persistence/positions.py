"""Spot positions per (user, base asset): quantity, average entry and realized PnL."""

from __future__ import annotations

from app.domain.positions import Position as PositionState
from app.money import to_str
from app.persistence import sql
from app.persistence.models import Position


def load_position(user_id: int, asset: str) -> PositionState:
    row = Position.get_or_none((Position.user_id == user_id) & (Position.asset == asset))
    if row is None:
        return PositionState(asset)
    return PositionState(asset, row.quantity, row.avg_entry, row.realized_pnl)


def save_position(user_id: int, pos: PositionState) -> None:
    sql.execute("INSERT INTO position (user_id, asset, quantity, avg_entry, realized_pnl) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (user_id, asset) DO UPDATE SET quantity = excluded.quantity, "
                "avg_entry = excluded.avg_entry, realized_pnl = excluded.realized_pnl",
                (user_id, pos.asset, to_str(pos.quantity), to_str(pos.avg_entry), to_str(pos.realized_pnl)))


def user_positions(user_id: int) -> dict[str, Position]:
    """A user's position rows by asset."""
    return {r.asset: r for r in Position.select().where(Position.user_id == user_id)}
