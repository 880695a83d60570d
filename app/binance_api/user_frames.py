"""Binance's user data events, rendered from Troupe's typed user events (app/events.py), pure: what
web/ws_render.py is for the browser, this is for a Binance client's user data stream.

An `OrderUpdated` becomes `executionReport`s: one per fill of the update (`x` TRADE, the cumulative
amounts stepping fill by fill to the order's), or one for a change without fills (`x` NEW, CANCELED,
REJECTED, EXPIRED). An order's first change (version 1: the Gateway wrote version 0) is preceded by the
NEW report Binance sends when an order is accepted, so a client sees NEW before the order's first
trade; a change to an OCO's leg is followed by the list's `listStatus` when the list's status type
moved (EXEC_STARTED, then ALL_DONE: the socket remembers what it sent). A `BalancesChanged` becomes
`outboundAccountPosition`. A transfer between the spot wallet and the CFD margin account (Binance's
"transfer between accounts") becomes `balanceUpdate`, `d` the change of the spot USDT; the house's
starting-margin grants never touch the spot wallet and render as nothing, as do spot positions and the
desk's other events, which Binance spot has no event for.
On the WebSocket API each event is wrapped `{"subscriptionId": n, "event": {...}}`; on a listen key's
stream it is sent as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from app.binance_render import STP, list_status_json, status, working
from app.cfd.inputs import is_grant
from app.domain.orders import OrderStatus
from app.events import BalancesChanged, CfdChanged, OrderFill, OrderRecord, OrderUpdated, UserEvent
from app.history import QUOTE_ASSET
from app.money import ZERO, to_str

FIRST_VERSION = 1  # the order's first change after the Gateway inserted it


@dataclass(frozen=True, slots=True)
class TradeRef:
    """What only the fill's row knows: its id (myTrades' `id`, the report's `t`) and its quote amount."""

    id: int
    quote_qty: Decimal


def reject_reason(o: OrderRecord) -> str:
    """Binance's `r`: NONE, or the word for Troupe's reason."""
    if o.status is not OrderStatus.REJECTED:
        return "NONE"
    text = (o.reject_reason or "").lower()
    if text.startswith("insufficient balance"):
        return "INSUFFICIENT_BALANCE"
    if "no market price" in text:
        return "MARKET_CLOSED"
    if "trigger immediately" in text:
        return "ORDER_WOULD_TRIGGER_IMMEDIATELY"
    if "would match" in text or "take" in text:
        return "ORDER_WOULD_IMMEDIATELY_MATCH_AND_TAKE"
    return "NONE"


def _amount(value: Decimal | None) -> str:
    return to_str(value if value is not None else ZERO)


def _report(o: OrderRecord, now: int, execution: str, fill: OrderFill | None, ref: TradeRef | None,
            filled: Decimal, quote: Decimal) -> dict[str, Any]:
    last_qty = fill.qty if fill is not None else ZERO
    last_price = fill.price if fill is not None else ZERO
    last_quote = ref.quote_qty if ref is not None else last_price * last_qty
    canceled = o.status is OrderStatus.CANCELED and execution == "CANCELED"
    report: dict[str, Any] = {
        "e": "executionReport", "E": now, "s": o.symbol, "c": o.client_order_id, "S": o.side.value,
        "o": o.type.value, "f": o.time_in_force.value if o.time_in_force else "GTC", "q": _amount(o.quantity),
        "p": _amount(o.price), "P": _amount(o.stop_price), "F": "0",
        "g": o.order_list_id if o.order_list_id is not None else -1,
        "C": o.client_order_id if canceled else "", "x": execution, "X": status(o.status),
        "r": reject_reason(o), "i": o.id, "l": to_str(last_qty), "z": to_str(filled), "L": to_str(last_price),
        "n": to_str(fill.commission) if fill is not None else "0",
        "N": (fill.commission_asset or None) if fill is not None else None, "T": o.updated_at,
        "t": ref.id if ref is not None else -1, "I": o.version, "w": working(o),
        "m": bool(fill.maker) if fill is not None else False, "M": fill is not None, "O": o.created_at,
        "Z": to_str(quote), "Y": to_str(last_quote), "Q": _amount(o.quote_order_qty), "W": o.created_at,
        "V": STP,
    }
    if o.trailing_delta is not None:
        report["d"] = o.trailing_delta
    return report


def execution_reports(event: OrderUpdated, now: int, trades: Mapping[int, TradeRef] | None = None
                      ) -> list[dict[str, Any]]:
    """The executionReports of one order update; `trades`: the fills' rows by their `seq`."""
    o = event.order
    trades = trades or {}
    out: list[dict[str, Any]] = []
    if o.version == FIRST_VERSION and o.status is not OrderStatus.NEW:
        accepted = replace(o, status=OrderStatus.NEW, executed_qty=ZERO, cumm_quote_qty=ZERO, updated_at=o.created_at)
        out.append(_report(accepted, now, "NEW", None, None, ZERO, ZERO))
    if not event.fills:
        execution = "NEW" if o.status in (OrderStatus.NEW, OrderStatus.PENDING, OrderStatus.UNKNOWN,
                                          OrderStatus.PARTIALLY_FILLED) else o.status.value
        out.append(_report(o, now, execution, None, None, o.executed_qty, o.cumm_quote_qty))
        return out
    # The cumulative amounts before this update's fills, then stepped fill by fill.
    quotes = [trades[f.seq].quote_qty if f.seq in trades else f.price * f.qty for f in event.fills]
    filled = o.executed_qty - sum((f.qty for f in event.fills), ZERO)
    quote = o.cumm_quote_qty - sum(quotes, ZERO)
    for n, (fill, fill_quote) in enumerate(zip(event.fills, quotes, strict=True)):
        filled += fill.qty
        quote += fill_quote
        last = n == len(event.fills) - 1
        shown = o if last else replace(o, status=OrderStatus.PARTIALLY_FILLED)
        out.append(_report(shown, now, "TRADE", fill, trades.get(fill.seq), filled, quote))
    return out


def account_position(event: BalancesChanged, now: int) -> dict[str, Any]:
    return {"e": "outboundAccountPosition", "E": now, "u": now,
            "B": [{"a": b.asset, "f": to_str(b.free), "l": to_str(b.locked)} for b in event.balances]}


def balance_update(event: CfdChanged, now: int) -> dict[str, Any] | None:
    """A transfer's spot side: the engine's amount is what went into margin, so the spot delta is its negation."""
    if event.event != "TRANSFERRED" or event.amount is None or is_grant(event.cmd_id or ""):
        return None
    return {"e": "balanceUpdate", "E": now, "a": QUOTE_ASSET, "d": to_str(-event.amount), "T": now}


def frames_of(event: UserEvent, now: int, trades: Mapping[int, TradeRef] | None = None) -> list[dict[str, Any]]:
    """Every Binance event one Troupe event becomes (none for those Binance spot has no event for)."""
    if isinstance(event, OrderUpdated):
        return execution_reports(event, now, trades)
    if isinstance(event, BalancesChanged):
        return [account_position(event, now)]
    if isinstance(event, CfdChanged) and (update := balance_update(event, now)) is not None:
        return [update]
    return []


def list_status(legs: list[Any], now: int) -> dict[str, Any]:
    """An OCO's `listStatus` (its legs as they now are), the REST answer's list in the event's names."""
    body = list_status_json(legs, None, now)
    return {"e": "listStatus", "E": now, "s": body["symbol"], "g": body["orderListId"], "c": body["contingencyType"],
            "l": body["listStatusType"], "L": body["listOrderStatus"], "r": "NONE", "C": body["listClientOrderId"],
            "T": now, "O": [{"s": o["symbol"], "i": o["orderId"], "c": o["clientOrderId"]} for o in body["orders"]]}


def wrapped(subscription_id: int, event: dict[str, Any]) -> dict[str, Any]:
    """An event on the WebSocket API, naming the subscription it belongs to."""
    return {"subscriptionId": subscription_id, "event": event}


def stream_terminated(now: int) -> dict[str, Any]:
    """A WebSocket API subscription ended by the server (its key revoked, or unsubscribed)."""
    return {"e": "eventStreamTerminated", "E": now}


def listen_key_expired(listen_key: str, now: int) -> dict[str, Any]:
    return {"e": "listenKeyExpired", "E": now, "listenKey": listen_key}
