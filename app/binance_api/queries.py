"""The Binance-compatible API's read side, on a database thread: one user's orders, fills and trades
in Binance's shapes (app/binance_render.py), always scoped to that user."""

from __future__ import annotations

from typing import Any

from app.binance_render import order_json, trade_json
from app.domain.orders import CANCELABLE
from app.persistence.binance_reads import fills_from, orders_from
from app.persistence.models import Fill, Order
from app.persistence.orders import fills_of, legs_of, order_by_client_id, order_by_id, user_orders


def find_order(user_id: int, symbol: str, order_id: int | None, client_id: str | None) -> Order | None:
    """By orderId (and, if both are sent, the clientOrderId must match) or origClientOrderId."""
    row = order_by_id(order_id, user_id) if order_id is not None else order_by_client_id(user_id, str(client_id))
    if row is None or row.symbol != symbol or (client_id is not None and row.client_order_id != client_id):
        return None
    return row


def order_with_fills(user_id: int, order_id: int) -> tuple[Order, list[Fill]] | None:
    row = order_by_id(order_id, user_id)
    if row is None:
        return None
    return row, fills_of([row.id]).get(row.id, [])


def open_orders(user_id: int, symbol: str | None) -> list[dict[str, Any]]:
    rows = user_orders(user_id, [s.value for s in CANCELABLE], symbol, 10_000, None)
    return [order_json(r) for r in sorted(rows, key=lambda r: r.id)]


def open_order_ids(user_id: int, symbol: str) -> list[int]:
    return sorted(r.id for r in user_orders(user_id, [s.value for s in CANCELABLE], symbol, 10_000, None))


def all_orders(user_id: int, symbol: str, from_id: int | None, start: int | None, end: int | None,
               limit: int) -> list[dict[str, Any]]:
    return [order_json(r) for r in orders_from(user_id, symbol, from_id, start, end, limit)]


def my_trades(user_id: int, symbol: str, order_id: int | None, from_id: int | None, start: int | None,
              end: int | None, limit: int) -> list[dict[str, Any]]:
    return [trade_json(f, o) for f, o in fills_from(user_id, symbol, order_id, from_id, start, end, limit)]


def order_list(user_id: int, list_id: int | None, list_client_id: str | None) -> list[Order] | None:
    """An OCO's legs (first leg first) by the list's id or its listClientOrderId (the legs' <id>-tp)."""
    row = order_by_id(list_id, user_id) if list_id is not None else \
        order_by_client_id(user_id, f"{list_client_id}-tp")
    if row is None or row.order_list_id is None or (list_id is not None and row.order_list_id != list_id):
        return None
    return legs_of(row)


def open_order_lists(user_id: int) -> list[list[Order]]:
    """Every OCO of the user with a leg that may still execute."""
    rows = user_orders(user_id, [s.value for s in CANCELABLE], None, 10_000, None)
    seen = sorted({r.order_list_id for r in rows if r.order_list_id is not None})
    return [legs_of(order_by_id(list_id) or rows[0]) for list_id in seen]
