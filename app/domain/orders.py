"""Orders: types, the status machine, and the checks an order must pass before it is accepted."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from app.domain.answers import RejectionKind
from app.domain.symbols import SymbolSpec
from app.money import to_str


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP_LOSS = "STOP_LOSS"  # a MARKET order once triggered
    STOP_LOSS_LIMIT = "STOP_LOSS_LIMIT"  # a LIMIT order once triggered
    TAKE_PROFIT = "TAKE_PROFIT"
    TAKE_PROFIT_LIMIT = "TAKE_PROFIT_LIMIT"
    LIMIT_MAKER = "LIMIT_MAKER"  # a GTC limit order that is rejected rather than take liquidity


TRIGGERED_TYPES = frozenset({OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT,
                             OrderType.TAKE_PROFIT_LIMIT})
LIMIT_TYPES = frozenset({OrderType.LIMIT, OrderType.STOP_LOSS_LIMIT, OrderType.TAKE_PROFIT_LIMIT,
                         OrderType.LIMIT_MAKER})
MIN_TRAILING_DELTA, MAX_TRAILING_DELTA = 10, 2000  # basis points, as Binance's TRAILING_DELTA filter


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
# Working at the venue: resting on the simulated book, or live at the exchange.
OPEN = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})
# Not terminal: may still execute, so a cancel has work to do; the API's status=OPEN and MAX_OPEN_ORDERS count these.
CANCELABLE = frozenset(OrderStatus) - TERMINAL

_ALLOWED: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset(OrderStatus) - {OrderStatus.PENDING},
    # An open order may change without changing status: a trailing stop's extreme moves, a trigger fires.
    OrderStatus.NEW: frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED,
                                OrderStatus.CANCELED, OrderStatus.EXPIRED}),
    OrderStatus.PARTIALLY_FILLED: frozenset({OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED,
                                             OrderStatus.CANCELED, OrderStatus.EXPIRED}),
    OrderStatus.UNKNOWN: frozenset(OrderStatus) - {OrderStatus.PENDING},
}


def can_transition(old: OrderStatus, new: OrderStatus) -> bool:
    """Statuses only move forward; a terminal order never changes again."""
    return new in _ALLOWED.get(old, frozenset())


class IllegalTransition(Exception):
    """An outcome would move an order backwards (or change a terminal one): a bug, never applied."""

    def __init__(self, order_id: int, old: OrderStatus, new: OrderStatus) -> None:
        super().__init__(f"order {order_id}: {old} -> {new} is not a legal status change")
        self.order_id, self.old, self.new = order_id, old, new


class OrderRejected(Exception):
    """The order cannot be accepted: `kind` says why in general (the web edge answers by it), `code` is the
    machine-readable reason, the message is for people."""

    def __init__(self, kind: RejectionKind, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.message = message
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
    stop_price: Decimal | None = None
    trailing_delta: int | None = None


def check_request(req: OrderRequest, spec: SymbolSpec) -> OrderRequest:
    """Apply Binance's per-type parameter rules and the symbol's filters; never round.

    Returns the request with defaults filled in (LIMIT timeInForce defaults to GTC).
    """
    if req.type is OrderType.MARKET:
        if (req.quantity is None) == (req.quote_order_qty is None):
            raise OrderRejected(RejectionKind.INVALID, "INVALID_PARAMS",
                                "a MARKET order needs exactly one of quantity or quoteOrderQty")
        if req.price is not None:
            raise OrderRejected(RejectionKind.INVALID, "INVALID_PARAMS", "price is not allowed on a MARKET order")
        if req.time_in_force is not None:
            raise OrderRejected(RejectionKind.INVALID, "INVALID_PARAMS", "timeInForce is not allowed on a MARKET order")
        if req.quantity is not None:
            _check(spec.qty_error(req.quantity), "quantity")
        else:
            assert req.quote_order_qty is not None
            _check(spec.notional_error(req.quote_order_qty), "quoteOrderQty")
        if req.stop_price is not None or req.trailing_delta is not None:
            raise OrderRejected(RejectionKind.INVALID, "INVALID_PARAMS",
                                "stopPrice and trailingDelta are only for stop-loss and "
                                "take-profit orders")
        return req
    if req.quote_order_qty is not None:
        raise OrderRejected(RejectionKind.INVALID, "INVALID_PARAMS", "quoteOrderQty is only allowed on MARKET orders")
    if req.type in TRIGGERED_TYPES:
        _check_trigger(req, spec)
        if req.type not in LIMIT_TYPES:
            if req.quantity is None:
                raise OrderRejected(RejectionKind.INVALID, "INVALID_PARAMS", f"a {req.type} order needs quantity")
            if req.price is not None or req.time_in_force is not None:
                raise OrderRejected(RejectionKind.INVALID, "INVALID_PARAMS",
                                    f"price and timeInForce are not allowed on a {req.type} "
                                    "order (it executes at market); use the _LIMIT type for a limit price")
            _check(spec.qty_error(req.quantity), "quantity")
            if req.stop_price is not None:
                _check(spec.notional_error(req.stop_price * req.quantity), "quantity")
            return req
    elif req.stop_price is not None or req.trailing_delta is not None:
        raise OrderRejected(RejectionKind.INVALID, "INVALID_PARAMS",
                            "stopPrice and trailingDelta are only for stop-loss and take-profit "
                            "orders")
    # LIMIT and the _LIMIT trigger types
    if req.quantity is None or req.price is None:
        raise OrderRejected(RejectionKind.INVALID, "INVALID_PARAMS", f"a {req.type} order needs quantity and price")
    _check(spec.price_error(req.price), "price")
    _check(spec.qty_error(req.quantity), "quantity")
    _check(spec.notional_error(req.price * req.quantity), "quantity")
    if req.type is OrderType.LIMIT_MAKER:
        if req.time_in_force is not None:
            raise OrderRejected(RejectionKind.INVALID, "INVALID_PARAMS",
                                "timeInForce is not allowed on a LIMIT_MAKER order (it is always "
                                "GTC)")
        return req
    if req.time_in_force is None:
        return OrderRequest(**{**_fields(req), "time_in_force": TimeInForce.GTC})
    return req


def amend_refusal(order_id: int, status: OrderStatus, order_type: OrderType, executed: Decimal,
                  list_id: int | None) -> OrderRejected | None:
    """Why order `order_id` cannot be amended (replaced by a new one in one step) now, or None.

    A partly filled order is not amended: its replacement could not say how much of it is still wanted."""
    def refused(text: str) -> OrderRejected:
        return OrderRejected(RejectionKind.CONFLICT, "ORDER_NOT_CANCELABLE", text)
    if status not in CANCELABLE:
        return refused(f"order {order_id} is already {status}; nothing was placed")
    if list_id is not None:
        return refused(f"order {order_id} is a leg of OCO list {list_id}; cancel the list and place a new one")
    if order_type is OrderType.MARKET:
        return refused(f"order {order_id} is a market order; it cannot be amended")
    if executed > 0:
        return refused(f"order {order_id} is partly filled ({to_str(executed)}); cancel it instead of amending it")
    return None


def _check_trigger(req: OrderRequest, spec: SymbolSpec) -> None:
    if req.stop_price is None and req.trailing_delta is None:
        raise OrderRejected(RejectionKind.INVALID, "INVALID_PARAMS",
                            f"a {req.type} order needs stopPrice, trailingDelta, or both")
    if req.stop_price is not None and (err := spec.price_error(req.stop_price)):
        raise OrderRejected(RejectionKind.FILTER_FAILURE, "FILTER_FAILURE",
                            err.replace("price must", "stopPrice must"), field="stopPrice")
    delta = req.trailing_delta
    if delta is not None and not MIN_TRAILING_DELTA <= delta <= MAX_TRAILING_DELTA:
        raise OrderRejected(RejectionKind.FILTER_FAILURE, "FILTER_FAILURE",
                            f"TRAILING_DELTA: trailingDelta must be between {MIN_TRAILING_DELTA} "
                            f"and {MAX_TRAILING_DELTA} basis points", field="trailingDelta")


def _fields(req: OrderRequest) -> dict[str, object]:
    return {name: getattr(req, name) for name in OrderRequest.__slots__}


def _check(error: str | None, field: str) -> None:
    if error is not None:
        raise OrderRejected(RejectionKind.FILTER_FAILURE, "FILTER_FAILURE", error, field=field)
