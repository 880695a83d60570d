"""Shared test fixtures for the pure engine tests: a symbol, a house, a wallet, and quotes."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from app.domain.book import Quote
from app.domain.execution import Fees, OrderView, Outcome
from app.domain.ledger import house_of_shard
from app.domain.symbols import spec_for

BTC = spec_for("BTCUSDT")
FEE = Fees.flat(Decimal("0.001"))
HOUSE = house_of_shard(0)
WALLET = {"USDT": Decimal("100000"), "BTC": Decimal("10")}
D = Decimal


def quote(last: str, ts: int = 1) -> Quote:
    """A one-dollar-wide market around the last trade price `last`."""
    p = D(last)
    return Quote(p - D("0.5"), p + D("0.5"), ts, p)


def after(view: OrderView, out: Outcome) -> OrderView:
    """The order as the executor would reload it once `out` is applied."""
    return replace(view, status=out.status, executed_qty=out.executed_qty, cumm_quote_qty=out.cumm_quote_qty,
                   locked=out.locked, fill_count=view.fill_count + len(out.fills),
                   trail_extreme=out.trail_extreme if out.trail_extreme is not None else view.trail_extreme,
                   triggered=out.triggered if out.triggered is not None else view.triggered)
