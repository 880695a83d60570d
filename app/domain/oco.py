"""OCO order lists: a take-profit leg and a stop-loss leg on one quantity; exactly one executes.

SELL: the take-profit leg sits above the market (LIMIT_MAKER, or TAKE_PROFIT_LIMIT when it has a
stop price), the stop-loss leg below it (STOP_LOSS, or STOP_LOSS_LIMIT with a limit price). BUY is
the mirror. Funds are reserved once, on the first leg: the quantity for a SELL, the dearer leg's
cost for a BUY. When a leg is about to execute (a fill, or its trigger firing) the other leg is
canceled first and hands its reservation over, all in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal

from app.domain import execution, triggers
from app.domain.answers import RejectionKind
from app.domain.book import Quote
from app.domain.execution import Fees, OrderView, Outcome
from app.domain.ledger import Entry, House, transfer, user_free, user_locked
from app.domain.orders import (
    LIMIT_TYPES,
    OPEN,
    TRIGGERED_TYPES,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    check_request,
)
from app.domain.symbols import SymbolSpec
from app.money import ZERO, debit, to_str


@dataclass(frozen=True, slots=True)
class OcoRequest:
    """An OCO list as the client asked for it (parsed, typed; not yet checked against the symbol's filters)."""

    list_client_order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal  # the take-profit leg's price
    stop_price: Decimal | None = None
    tp_stop_price: Decimal | None = None
    stop_limit_price: Decimal | None = None
    stop_limit_time_in_force: TimeInForce | None = None
    trailing_delta: int | None = None


def leg_types(take_profit_stop: Decimal | None, stop_loss_limit: Decimal | None) -> tuple[OrderType, OrderType]:
    tp = OrderType.LIMIT_MAKER if take_profit_stop is None else OrderType.TAKE_PROFIT_LIMIT
    sl = OrderType.STOP_LOSS if stop_loss_limit is None else OrderType.STOP_LOSS_LIMIT
    return tp, sl


def leg_requests(list_client_order_id: str, symbol: str, side: Side, quantity: Decimal, price: Decimal,
                 stop_price: Decimal | None, tp_stop_price: Decimal | None, stop_limit_price: Decimal | None,
                 stop_limit_tif: TimeInForce | None, trailing_delta: int | None,
                 spec: SymbolSpec) -> tuple[OrderRequest, OrderRequest]:
    """The two legs, each checked like a single order; their client ids end in -tp and -sl."""
    if stop_price is None and trailing_delta is None:
        raise OrderRejected(RejectionKind.INVALID, "INVALID_PARAMS",
                            "an OCO's stop-loss leg needs stopPrice, trailingDelta, or both")
    if stop_limit_price is None and stop_limit_tif is not None:
        raise OrderRejected(RejectionKind.INVALID, "INVALID_PARAMS", "stopLimitTimeInForce goes with stopLimitPrice")
    if stop_price is not None and (price <= stop_price if side is Side.SELL else price >= stop_price):
        where = "above" if side is Side.SELL else "below"
        raise OrderRejected(RejectionKind.INVALID, "INVALID_PARAMS",
                            f"in a {side} OCO the take-profit price must be {where} the stop price", field="price")
    tp_type, sl_type = leg_types(tp_stop_price, stop_limit_price)
    tp = OrderRequest(f"{list_client_order_id}-tp", symbol, side, tp_type, quantity=quantity, price=price,
                      stop_price=tp_stop_price,
                      time_in_force=TimeInForce.GTC if tp_type is OrderType.TAKE_PROFIT_LIMIT else None)
    sl = OrderRequest(f"{list_client_order_id}-sl", symbol, side, sl_type, quantity=quantity, price=stop_limit_price,
                      stop_price=stop_price, trailing_delta=trailing_delta,
                      time_in_force=(stop_limit_tif or TimeInForce.GTC) if stop_limit_price is not None else None)
    return check_request(tp, spec), check_request(sl, spec)


def _leg_error(leg: OrderView, quote: Quote) -> str | None:
    if leg.type is OrderType.LIMIT_MAKER and execution.crosses(leg, quote):
        return "Order would immediately match and take."
    if leg.type in TRIGGERED_TYPES and triggers.would_trigger_immediately(leg.type, leg.side, leg.stop_price,
                                                                           quote.last_price):
        return "Order would trigger immediately."
    return None


def _cost(leg: OrderView, quote: Quote) -> Decimal:
    assert leg.quantity is not None
    reference = leg.price if leg.type in LIMIT_TYPES else (leg.stop_price or quote.ask)
    assert reference is not None
    return debit(reference * leg.quantity)


def place(first: OrderView, second: OrderView, quote: Quote | None, spec: SymbolSpec,
          free: Mapping[str, Decimal]) -> tuple[Outcome, Outcome]:
    """Both legs NEW (the first holding the reservation), or both REJECTED."""
    def both_rejected(reason: str) -> tuple[Outcome, Outcome]:
        return (Outcome(OrderStatus.REJECTED, ZERO, ZERO, ZERO, reason=reason),
                Outcome(OrderStatus.REJECTED, ZERO, ZERO, ZERO, reason=reason))

    if quote is None:
        return both_rejected("no market price yet for this symbol; try again in a moment")
    for leg in (first, second):
        if (error := _leg_error(leg, quote)) is not None:
            return both_rejected(f"{leg.type} leg: {error}")
    assert first.quantity is not None
    if first.side is Side.SELL:
        asset, lock = spec.base, first.quantity
    else:
        asset, lock = spec.quote, max(_cost(first, quote), _cost(second, quote))
    if free.get(asset, ZERO) < lock:
        return both_rejected(f"insufficient balance: needs {to_str(lock)} {asset}, "
                             f"{to_str(free.get(asset, ZERO))} {asset} available")
    uid = first.user_id
    entry = transfer("order", f"{first.id}/lock", "lock", asset, lock, user_free(uid), user_locked(uid))
    touched = frozenset({spec.base, spec.quote})

    def new(leg: OrderView, locked: Decimal, entries: tuple[Entry, ...]) -> Outcome:
        extreme = None
        if leg.type in TRIGGERED_TYPES:
            extreme = triggers.step(leg.type, leg.side, leg.stop_price, leg.trailing_delta, None,
                                    quote.last_price).extreme
        return Outcome(OrderStatus.NEW, ZERO, ZERO, locked, (), entries, touched_assets=touched,
                       trail_extreme=extreme, triggered=False)

    return new(first, lock, (entry,)), new(second, ZERO, ())


def _executes(leg: OrderView, quote: Quote) -> bool:
    if execution.waiting_for_trigger(leg):
        return triggers.step(leg.type, leg.side, leg.stop_price, leg.trailing_delta, leg.trail_extreme,
                             quote.last_price).triggered
    return execution.crosses(leg, quote)


def on_quote(leg: OrderView, sibling: OrderView, quote: Quote, spec: SymbolSpec, fees: Fees, house: House,
             free: Mapping[str, Decimal]) -> list[tuple[OrderView, Outcome]]:
    """The outcomes to apply, in order, when `quote` reaches `leg` of a list."""
    if leg.status not in OPEN:
        return []
    if sibling.status not in OPEN or not _executes(leg, quote):
        out = execution.on_quote(leg, quote, spec, fees, house, free)
        return [] if out is None else [(leg, out)]
    canceled = replace(execution.cancel(sibling, spec), status=OrderStatus.EXPIRED,  # as Binance reports it
                       reason="expired: the other order of its OCO list executed")
    handover = sibling.locked
    entries: tuple[Entry, ...] = ()
    if handover > 0:
        asset = spec.quote if leg.side is Side.BUY else spec.base
        uid = leg.user_id
        entries = (transfer("order", f"{leg.id}/lock", "lock", asset, handover, user_free(uid), user_locked(uid)),)
        leg = replace(leg, locked=leg.locked + handover)
    out = execution.on_quote(leg, quote, spec, fees, house, free)
    assert out is not None, "a leg that executes always has an outcome"
    return [(sibling, canceled), (leg, replace(out, entries=(*entries, *out.entries)))]
