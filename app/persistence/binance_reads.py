"""The reads only the Binance-compatible API makes: a user's orders and fills of one symbol in id
order, from an id or a time on (allOrders, myTrades)."""

from __future__ import annotations

from app.persistence.models import Fill, Order


def orders_from(user_id: int, symbol: str, from_id: int | None, start: int | None, end: int | None,
                limit: int) -> list[Order]:
    """Oldest first; with `from_id` from that order id on, else the newest `limit` in the time range."""
    q = Order.select().where((Order.user_id == user_id) & (Order.symbol == symbol))
    if start is not None:
        q = q.where(Order.created_at >= start)
    if end is not None:
        q = q.where(Order.created_at <= end)
    if from_id is not None:
        return list(q.where(Order.id >= from_id).order_by(Order.id).limit(limit))
    return list(reversed(list(q.order_by(Order.id.desc()).limit(limit))))


def fills_from(user_id: int, symbol: str, order_id: int | None, from_id: int | None, start: int | None,
               end: int | None, limit: int) -> list[tuple[Fill, Order]]:
    """The user's fills on `symbol` with their orders, oldest first (`from_id`: from that fill id on)."""
    q = (Fill.select(Fill, Order).join(Order, on=(Fill.order_id == Order.id), attr="placed")
         .where((Order.user_id == user_id) & (Order.symbol == symbol)))
    if order_id is not None:
        q = q.where(Fill.order_id == order_id)
    if start is not None:
        q = q.where(Fill.created_at >= start)
    if end is not None:
        q = q.where(Fill.created_at <= end)
    if from_id is not None:
        rows = list(q.where(Fill.id >= from_id).order_by(Fill.id).limit(limit))
    else:
        rows = list(reversed(list(q.order_by(Fill.id.desc()).limit(limit))))
    return [(f, f.placed) for f in rows]
