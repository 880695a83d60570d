"""The spot desk's JSON: orders, fills, balances, positions and users, as REST bodies show them.

The edge renders with it: the REST handlers and the SNAPSHOT (app/queries.py), and the WebSocket's live
events (web/ws_render.py), so an order, a balance or a position has one JSON shape everywhere. Actors
never call it for events: they publish typed values (app/events.py). Domain values to JSON, nothing of
HTTP (mirrors app/cfd/render.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from app.domain.positions import Position as PositionState
from app.events import Balance, OrderRecord, order_record
from app.money import ASSET_SCALE, ZERO, to_str, to_str_or_none


def avg_price(executed: Decimal, cumm_quote: Decimal) -> Decimal:
    """Volume-weighted average fill price, rounded half-even to 8 decimals (a display figure)."""
    if executed == 0:
        return ZERO
    return (cumm_quote / executed).quantize(ASSET_SCALE, rounding=ROUND_HALF_EVEN)


def order_json(order: OrderRecord | Any, fills: Iterable[Any] = ()) -> dict[str, Any]:
    """An order (its typed record, or a row of the `order` table) with `fills` (records or rows)."""
    row = order if isinstance(order, OrderRecord) else order_record(order)
    return {
        "orderId": row.id,
        "clientOrderId": row.client_order_id,
        "symbol": row.symbol,
        "side": row.side.value,
        "type": row.type.value,
        "timeInForce": row.time_in_force.value if row.time_in_force is not None else None,
        "price": to_str_or_none(row.price),
        "origQty": to_str_or_none(row.quantity),
        "quoteOrderQty": to_str_or_none(row.quote_order_qty),
        "executedQty": to_str(row.executed_qty),
        "cummulativeQuoteQty": to_str(row.cumm_quote_qty),
        "avgPrice": to_str(avg_price(row.executed_qty, row.cumm_quote_qty)),
        "status": row.status.value,
        "rejectReason": row.reject_reason,
        "stopPrice": to_str_or_none(row.stop_price),
        "trailingDelta": row.trailing_delta,
        "triggered": row.triggered,
        "orderListId": row.order_list_id if row.order_list_id is not None else -1,
        "fills": [fill_json(f) for f in fills],
        "time": row.created_at,
        "updateTime": row.updated_at,
        "apiKeyId": row.api_key_id,
        "version": row.version,
    }


def fill_json(f: Any) -> dict[str, Any]:
    return {"seq": f.seq, "price": to_str(f.price), "qty": to_str(f.qty), "commission": to_str(f.commission),
            "commissionAsset": f.commission_asset}


def balance_json(asset: str, free: Decimal, locked: Decimal) -> dict[str, str]:
    return {"asset": asset, "free": to_str(free), "locked": to_str(locked)}


def balances_json(balances: Iterable[Balance]) -> list[dict[str, str]]:
    return [balance_json(b.asset, b.free, b.locked) for b in balances]


def position_json(asset: str, quantity: Decimal, avg_entry: Decimal, realized: Decimal,
                  mark: Decimal | None) -> dict[str, Any]:
    unrealized = PositionState(asset, quantity, avg_entry, realized).unrealized(mark)
    return {"asset": asset, "quantity": to_str(quantity), "avgEntryPrice": to_str(avg_entry),
            "markPrice": to_str_or_none(mark), "unrealizedPnl": to_str(unrealized), "realizedPnl": to_str(realized)}


def position_update_json(p: PositionState) -> dict[str, Any]:
    """A position a fill moved, as the live POSITION_UPDATE shows it (no mark: the page has the prices)."""
    return {"asset": p.asset, "quantity": to_str(p.quantity), "avgEntryPrice": to_str(p.avg_entry),
            "realizedPnl": to_str(p.realized_pnl)}


def user_json(user: Any, key_last4: str | None) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "createdAt": user.created_at,
            "binanceKey": None if key_last4 is None else {"apiKeyLast4": key_last4}}


# --- the JSON Schemas of the shapes above, for /openapi.json (web/openapi.py) ----------------------------
DECIMAL = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "description": "a decimal, as plain text"}
DECIMAL_OR_NULL = {"oneOf": [DECIMAL, {"type": "null"}]}
MS = {"type": "integer", "description": "milliseconds since the Unix epoch"}


def obj(properties: dict[str, Any], required: Iterable[str] | None = None) -> dict[str, Any]:
    """An object schema; every listed property is required unless `required` names fewer."""
    return {"type": "object", "properties": properties,
            "required": sorted(properties if required is None else required)}


FILL_SCHEMA = obj({"seq": {"type": "integer"}, "price": DECIMAL, "qty": DECIMAL, "commission": DECIMAL,
                   "commissionAsset": {"type": "string"}})
ORDER_SCHEMA = obj({
    "orderId": {"type": "integer"}, "clientOrderId": {"type": "string"}, "symbol": {"type": "string"},
    "side": {"type": "string"}, "type": {"type": "string"}, "timeInForce": {"type": ["string", "null"]},
    "price": DECIMAL_OR_NULL, "origQty": DECIMAL_OR_NULL, "quoteOrderQty": DECIMAL_OR_NULL,
    "executedQty": DECIMAL, "cummulativeQuoteQty": DECIMAL, "avgPrice": DECIMAL, "status": {"type": "string"},
    "rejectReason": {"type": ["string", "null"]}, "stopPrice": DECIMAL_OR_NULL,
    "trailingDelta": {"type": ["integer", "null"]}, "triggered": {"type": ["boolean", "integer", "null"]},
    "orderListId": {"type": "integer"}, "fills": {"type": "array", "items": FILL_SCHEMA}, "time": MS,
    "updateTime": MS, "version": {"type": "integer"}})
BALANCE_SCHEMA = obj({"asset": {"type": "string"}, "free": DECIMAL, "locked": DECIMAL})
POSITION_SCHEMA = obj({"asset": {"type": "string"}, "quantity": DECIMAL, "avgEntryPrice": DECIMAL,
                       "markPrice": DECIMAL_OR_NULL, "unrealizedPnl": DECIMAL, "realizedPnl": DECIMAL})
KEY_LAST4_SCHEMA = {"oneOf": [{"type": "null"}, obj({"apiKeyLast4": {"type": "string"}})]}
USER_SCHEMA = obj({"id": {"type": "integer"}, "email": {"type": "string"}, "createdAt": MS,
                   "binanceKey": KEY_LAST4_SCHEMA})
