"""The spot desk's JSON: orders, fills, positions and users, as REST bodies and WebSocket frames show them.

Actors render the events they publish with it, so it is domain rows to JSON and nothing of HTTP (mirrors
app/cfd/render.py).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from app.domain.positions import Position as PositionState
from app.money import ASSET_SCALE, ZERO, to_str, to_str_or_none


def avg_price(executed: Decimal, cumm_quote: Decimal) -> Decimal:
    """Volume-weighted average fill price, rounded half-even to 8 decimals (a display figure)."""
    if executed == 0:
        return ZERO
    return (cumm_quote / executed).quantize(ASSET_SCALE, rounding=ROUND_HALF_EVEN)


def order_json(row: Any, fills: list[Any] | None = None) -> dict[str, Any]:
    return {
        "orderId": row.id,
        "clientOrderId": row.client_order_id,
        "symbol": row.symbol,
        "side": row.side,
        "type": row.type,
        "timeInForce": row.time_in_force,
        "price": to_str_or_none(row.price),
        "origQty": to_str_or_none(row.quantity),
        "quoteOrderQty": to_str_or_none(row.quote_order_qty),
        "executedQty": to_str(row.executed_qty),
        "cummulativeQuoteQty": to_str(row.cumm_quote_qty),
        "avgPrice": to_str(avg_price(row.executed_qty, row.cumm_quote_qty)),
        "status": row.status,
        "rejectReason": row.reject_reason,
        "stopPrice": to_str_or_none(row.stop_price),
        "trailingDelta": row.trailing_delta,
        "triggered": bool(row.triggered),
        "orderListId": row.order_list_id if row.order_list_id is not None else -1,
        "fills": [fill_json(f) for f in (fills or [])],
        "time": row.created_at,
        "updateTime": row.updated_at,
        "version": row.version,
    }


def fill_json(f: Any) -> dict[str, Any]:
    return {"seq": f.seq, "price": to_str(f.price), "qty": to_str(f.qty), "commission": to_str(f.commission),
            "commissionAsset": f.commission_asset}


def position_json(asset: str, quantity: Decimal, avg_entry: Decimal, realized: Decimal,
                  mark: Decimal | None) -> dict[str, Any]:
    unrealized = PositionState(asset, quantity, avg_entry, realized).unrealized(mark)
    return {"asset": asset, "quantity": to_str(quantity), "avgEntryPrice": to_str(avg_entry),
            "markPrice": to_str_or_none(mark), "unrealizedPnl": to_str(unrealized), "realizedPnl": to_str(realized)}


def user_json(user: Any, key_last4: str | None) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "createdAt": user.created_at,
            "binanceKey": None if key_last4 is None else {"apiKeyLast4": key_last4}}
