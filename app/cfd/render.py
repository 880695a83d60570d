"""The CFD desk's JSON: positions (live ones from the engine, and rows of the database projection) and
events, as REST bodies and WebSocket `CFD_UPDATE` frames show them (the frames: `changed_json`, called at
the edge by web/ws_render.py). Amounts become text here only."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol

from app.cfd.inputs import Event
from app.cfd.rules import Direction, Position, mark_and_upnl
from app.events import CfdChanged
from app.money import to_str, to_str_or_none
from app.render import DECIMAL, DECIMAL_OR_NULL, MS, obj


class PositionRow(Protocol):
    """A row of the `cfd_position` projection (app/persistence/models.py: CfdPosition)."""

    id: int
    symbol: str
    direction: str
    status: str
    margin: Decimal
    leverage: Decimal
    entry_price: Decimal
    quantity: Decimal
    liquidation_price: Decimal
    stop_loss: Decimal | None
    take_profit: Decimal | None
    open_fee: Decimal
    exit_price: Decimal | None
    pnl: Decimal | None
    close_fee: Decimal | None
    payout: Decimal | None
    opened_at: int
    closed_at: int | None
    version: int


def position_json(p: Position) -> dict[str, Any]:
    return {"id": p.id, "symbol": p.symbol, "direction": p.direction.value, "margin": to_str(p.margin),
            "leverage": to_str(p.leverage), "entryPrice": to_str(p.entry), "quantity": to_str(p.qty),
            "liquidationPrice": to_str(p.liquidation), "stopLossPrice": to_str_or_none(p.stop_loss),
            "takeProfitPrice": to_str_or_none(p.take_profit), "openedAt": p.opened_at}


def event_json(event: Event) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in event.data.items():
        if isinstance(value, Position):
            out[key] = position_json(value)
        elif isinstance(value, Decimal):
            out[key] = to_str(value)
        else:
            out[key] = value
    return out


_CHANGED_FIELDS = (("cmdId", "cmd_id"), ("position", "position"), ("exitPrice", "exit_price"), ("pnl", "pnl"),
                   ("fee", "fee"), ("amount", "amount"), ("payout", "payout"), ("balance", "balance"),
                   ("reason", "reason"), ("field", "field"), ("code", "code"))


def changed_json(change: CfdChanged) -> dict[str, Any]:
    """The data of a `CFD_UPDATE` user event (the WebSocket frame): the engine event's fields (in the
    engine's order; a refusal always names its field, null or not), its kind, and the account's balance
    after the batch."""
    out: dict[str, Any] = {}
    for key, name in _CHANGED_FIELDS:
        value = getattr(change, name)
        if value is None:
            if key == "field" and change.event == "REJECTED":
                out[key] = None
            continue
        if isinstance(value, Position):
            out[key] = position_json(value)
        elif isinstance(value, Decimal):
            out[key] = to_str(value)
        else:
            out[key] = value
    out["event"] = change.event
    out["account"] = {"balance": to_str(change.account_balance)}
    return out


def reply_json(event: Event) -> dict[str, Any]:
    """The REST body answering the command that caused `event` (a refusal: its detail, field and code)."""
    data = event_json(event)
    if event.kind == "REJECTED":
        return {"detail": data["reason"], "field": data.get("field"), "code": data["code"]}
    if event.kind == "OPENED":
        return {"position": data["position"], "fee": data["fee"], "balance": data["balance"]}
    if event.kind == "TRANSFERRED":
        return {"amount": data["amount"], "balance": data["balance"]}
    return {"event": event.kind, **data}


def cfd_position_json(row: PositionRow, bid: Decimal | None = None, ask: Decimal | None = None) -> dict[str, Any]:
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
        mark, upnl = mark_and_upnl(Direction(row.direction), row.entry_price, row.quantity, bid, ask)
        data["markPrice"] = to_str(mark)
        data["unrealizedPnl"] = to_str(upnl)
    return data


# --- the JSON Schema of cfd_position_json, for /openapi.json (web/openapi.py) ----------------------------
CFD_POSITION_SCHEMA = obj({
    "id": {"type": "integer"}, "symbol": {"type": "string"}, "direction": {"type": "string", "enum": ["LONG", "SHORT"]},
    "status": {"type": "string"}, "margin": DECIMAL, "leverage": DECIMAL, "entryPrice": DECIMAL, "quantity": DECIMAL,
    "liquidationPrice": DECIMAL, "stopLossPrice": DECIMAL_OR_NULL, "takeProfitPrice": DECIMAL_OR_NULL,
    "openFee": DECIMAL, "exitPrice": DECIMAL_OR_NULL, "realizedPnl": DECIMAL_OR_NULL, "closeFee": DECIMAL_OR_NULL,
    "payout": DECIMAL_OR_NULL, "openedAt": MS, "closedAt": {"type": ["integer", "null"]},
    "version": {"type": "integer"}, "markPrice": DECIMAL, "unrealizedPnl": DECIMAL,
}, required=["id", "symbol", "direction", "status", "margin", "leverage", "entryPrice", "quantity", "openedAt"])
# position_json's shape: the position an OPENED answer and the live events carry (no status, no PnL).
CFD_OPENED_SCHEMA = obj({
    "id": {"type": "integer"}, "symbol": {"type": "string"}, "direction": {"type": "string", "enum": ["LONG", "SHORT"]},
    "margin": DECIMAL, "leverage": DECIMAL, "entryPrice": DECIMAL, "quantity": DECIMAL, "liquidationPrice": DECIMAL,
    "stopLossPrice": DECIMAL_OR_NULL, "takeProfitPrice": DECIMAL_OR_NULL, "openedAt": MS})
