"""Orders: types, the status machine, and the checks an order must pass before it is accepted."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from app.domain.symbols import SymbolSpec


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"


class TimeInForce(StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class OrderStatus(StrEnum):
    PENDING = "PENDING"  # accepted and durable, not yet seen by the executor
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    UNKNOWN = "UNKNOWN"  # sent to an external exchange whose answer was lost; being reconciled


TERMINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED})
OPEN = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})
CANCELABLE = frozenset({OrderStatus.PENDING, OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.UNKNOWN})

_ALLOWED: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset(OrderStatus) - {OrderStatus.PENDING},
    OrderStatus.NEW: frozenset({OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELED,
                                OrderStatus.EXPIRED}),
    OrderStatus.PARTIALLY_FILLED: frozenset({OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED,
                                             OrderStatus.CANCELED, OrderStatus.EXPIRED}),
    OrderStatus.UNKNOWN: frozenset(OrderStatus) - {OrderStatus.PENDING},
}


def can_transition(old: OrderStatus, new: OrderStatus) -> bool:
    """Statuses only move forward; a terminal order never changes again."""
    return new in _ALLOWED.get(old, frozenset())


class OrderRejected(Exception):
    """The order cannot be accepted; `code` is machine-readable, the message is for people."""

    def __init__(self, code: str, message: str, http_status: int = 422, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status
        self.field = field


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """An order as the trader asked for it, already syntactically valid."""

    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal | None = None
    quote_order_qty: Decimal | None = None
    price: Decimal | None = None
    time_in_force: TimeInForce | None = None


def check_request(req: OrderRequest, spec: SymbolSpec) -> OrderRequest:
    """Apply Binance's per-type parameter rules and the symbol's filters; never round.

    Returns the request with defaults filled in (LIMIT timeInForce defaults to GTC).
    """
    if req.type is OrderType.MARKET:
        if (req.quantity is None) == (req.quote_order_qty is None):
            raise OrderRejected("INVALID_PARAMS", "a MARKET order needs exactly one of quantity or quoteOrderQty", 400)
        if req.price is not None:
            raise OrderRejected("INVALID_PARAMS", "price is not allowed on a MARKET order", 400)
        if req.time_in_force is not None:
            raise OrderRejected("INVALID_PARAMS", "timeInForce is not allowed on a MARKET order", 400)
        if req.quantity is not None:
            _check(spec.qty_error(req.quantity), "quantity")
        else:
            assert req.quote_order_qty is not None
            _check(spec.notional_error(req.quote_order_qty), "quoteOrderQty")
        return req
    # LIMIT
    if req.quantity is None or req.price is None:
        raise OrderRejected("INVALID_PARAMS", "a LIMIT order needs quantity and price", 400)
    if req.quote_order_qty is not None:
        raise OrderRejected("INVALID_PARAMS", "quoteOrderQty is only allowed on MARKET orders", 400)
    _check(spec.price_error(req.price), "price")
    _check(spec.qty_error(req.quantity), "quantity")
    _check(spec.notional_error(req.price * req.quantity), "quantity")
    if req.time_in_force is None:
        return OrderRequest(**{**_fields(req), "time_in_force": TimeInForce.GTC})
    return req


def _fields(req: OrderRequest) -> dict[str, object]:
    return {name: getattr(req, name) for name in OrderRequest.__slots__}


def _check(error: str | None, field: str) -> None:
    if error is not None:
        raise OrderRejected("FILTER_FAILURE", error, field=field)
