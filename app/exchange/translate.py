"""Binance answers turned into Troupe's domain objects (pure functions, no I/O).

Binance sends every decimal as a string; they become `Decimal` here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from app.domain.execution import FillRecord, OrderView, Outcome
from app.domain.orders import OrderStatus, Side
from app.domain.symbols import SymbolSpec
from app.money import ZERO

_STATUS = {
    "NEW": OrderStatus.NEW,
    "PENDING_NEW": OrderStatus.NEW,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "PENDING_CANCEL": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELED,
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,
}


def status_of(order: Mapping[str, Any]) -> OrderStatus:
    status = _STATUS.get(str(order.get("status")))
    if status is None:
        raise ValueError(f"unexpected Binance order status {order.get('status')!r}")
    if status is OrderStatus.NEW and Decimal(str(order.get("executedQty", "0"))) > 0:
        return OrderStatus.PARTIALLY_FILLED
    return status


def fill_record(seq: int, side: Side, spec: SymbolSpec, fill: Mapping[str, Any]) -> FillRecord:
    """One Binance fill (from a FULL answer or /myTrades); the fee counts where it was charged."""
    price, qty = Decimal(str(fill["price"])), Decimal(str(fill["qty"]))
    commission, asset = Decimal(str(fill["commission"])), str(fill["commissionAsset"])
    quote_qty = price * qty
    if side is Side.BUY:
        net_base = qty - commission if asset == spec.base else qty
        net_quote = quote_qty
    else:
        net_base = qty
        net_quote = quote_qty - commission if asset == spec.quote else quote_qty
    return FillRecord(seq, price, qty, quote_qty, commission, asset, net_base, net_quote)


def outcome_of(view: OrderView, spec: SymbolSpec, order: Mapping[str, Any],
               fills: Sequence[Mapping[str, Any]] | None) -> Outcome | None:
    """The order's new state from Binance, with the fills Troupe has not recorded yet.

    `fills` are all of the order's fills in Binance's order (None: none since last time); the
    first `view.fill_count` are already recorded, so applying the same answer twice records
    nothing twice. None: nothing changed.
    """
    status = status_of(order)
    new = [fill_record(view.fill_count + i, view.side, spec, f)
           for i, f in enumerate((fills or [])[view.fill_count:], start=1)]
    executed = Decimal(str(order.get("executedQty", "0")))
    cumm = Decimal(str(order.get("cummulativeQuoteQty", "0")))
    if status is view.status and not new and executed == view.executed_qty:
        return None
    if cumm < 0:  # Binance: "data not available at this time"; keep what the fills say
        cumm = view.cumm_quote_qty + sum((f.quote_qty for f in new), ZERO)
    return Outcome(status, executed, cumm, ZERO, tuple(new),
                   reason=None, touched_assets=frozenset({spec.base, spec.quote}))


def balances_of(account: Mapping[str, Any]) -> list[tuple[str, Decimal, Decimal]]:
    """(asset, free, locked) per row of /api/v3/account; Binance pads them ("10.00000000")."""
    return [(str(b["asset"]), Decimal(str(b["free"])), Decimal(str(b["locked"])))
            for b in account.get("balances", [])]


def rejected(reason: str) -> Outcome:
    return Outcome(OrderStatus.REJECTED, ZERO, ZERO, ZERO, reason=reason)


def specs_from_exchange_info(info: Mapping[str, Any], base: Mapping[str, SymbolSpec]) -> dict[str, SymbolSpec]:
    """Our specs with Binance's own filters (tick, lot and notional) for the configured symbols."""
    out: dict[str, SymbolSpec] = {}
    by_symbol = {s["symbol"]: s for s in info.get("symbols", [])}
    for symbol, spec in base.items():
        entry = by_symbol.get(symbol)
        if entry is None:
            raise ValueError(f"Binance does not list {symbol}; remove it from SYMBOLS")
        filters = {f["filterType"]: f for f in entry.get("filters", [])}
        price, lot = filters.get("PRICE_FILTER", {}), filters.get("LOT_SIZE", {})
        notional = filters.get("NOTIONAL") or filters.get("MIN_NOTIONAL") or {}
        d = lambda f, k, default: Decimal(str(f[k])).normalize() if k in f else default  # noqa: E731
        out[symbol] = replace(
            spec, base=entry.get("baseAsset", spec.base), quote=entry.get("quoteAsset", spec.quote),
            tick_size=d(price, "tickSize", spec.tick_size), min_price=d(price, "minPrice", spec.min_price),
            max_price=d(price, "maxPrice", spec.max_price), step_size=d(lot, "stepSize", spec.step_size),
            min_qty=d(lot, "minQty", spec.min_qty), max_qty=d(lot, "maxQty", spec.max_qty),
            min_notional=d(notional, "minNotional", spec.min_notional))
    return out
