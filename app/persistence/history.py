"""The account's history as the API pages it: fills (with their order's symbol and side), orders and
CFD positions, each newest first with an id cursor and optional symbol and time filters."""

from __future__ import annotations

from typing import Any

from app.persistence.models import CfdPosition, Fill, Order


def fills_page(user_id: int, symbol: str | None, start: int | None, end: int | None, limit: int,
               before_id: int | None) -> list[tuple[Fill, str, str]]:
    """(fill, symbol, side) of a user's fills, newest first, start <= time < end."""
    q = (Fill.select(Fill, Order.symbol, Order.side).join(Order, on=(Fill.order_id == Order.id))
         .where(Order.user_id == user_id))
    if symbol:
        q = q.where(Order.symbol == symbol)
    if start is not None:
        q = q.where(Fill.created_at >= start)
    if end is not None:
        q = q.where(Fill.created_at < end)
    if before_id:
        q = q.where(Fill.id < before_id)
    rows = q.order_by(Fill.id.desc()).limit(limit).objects()
    return [(r, r.symbol, r.side) for r in rows]


def orders_page(user_id: int, symbol: str | None, start: int | None, end: int | None, limit: int,
                before_id: int | None) -> list[Order]:
    """A user's orders created start <= time < end, newest first."""
    q = Order.select().where(Order.user_id == user_id)
    q = _filtered(q, Order.symbol, Order.created_at, symbol, start, end)
    if before_id:
        q = q.where(Order.id < before_id)
    return list(q.order_by(Order.id.desc()).limit(limit))


def cfd_page(user_id: int, symbol: str | None, start: int | None, end: int | None, limit: int,
             before_id: int | None) -> list[CfdPosition]:
    """A user's CFD positions (open and closed) opened start <= time < end, highest id first."""
    q = CfdPosition.select().where(CfdPosition.user_id == user_id)
    q = _filtered(q, CfdPosition.symbol, CfdPosition.opened_at, symbol, start, end)
    if before_id:
        q = q.where(CfdPosition.id < before_id)
    return list(q.order_by(CfdPosition.id.desc()).limit(limit))


def _filtered(q: Any, symbol_col: Any, time_col: Any, symbol: str | None, start: int | None,
              end: int | None) -> Any:
    if symbol:
        q = q.where(symbol_col == symbol)
    if start is not None:
        q = q.where(time_col >= start)
    if end is not None:
        q = q.where(time_col < end)
    return q
