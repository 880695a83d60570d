"""Positions by weighted average cost."""

from __future__ import annotations

from decimal import Decimal

from app.domain.execution import FillRecord
from app.domain.orders import Side
from app.domain.positions import Position, apply_fill


def fill(qty: str, net_base: str, net_quote: str) -> FillRecord:
    return FillRecord(1, Decimal(0), Decimal(qty), Decimal(0), Decimal(0), "X", Decimal(net_base), Decimal(net_quote))


def test_average_entry_is_weighted_by_cost_and_sales_realize_pnl() -> None:
    pos = Position("BTC")
    pos = apply_fill(pos, Side.BUY, fill("1", "1", "100"))
    pos = apply_fill(pos, Side.BUY, fill("1", "1", "200"))
    assert pos.quantity == 2 and pos.avg_entry == Decimal("150")
    pos = apply_fill(pos, Side.SELL, fill("0.5", "0.5", "100"))
    assert pos.quantity == Decimal("1.5") and pos.avg_entry == Decimal("150")
    assert pos.realized_pnl == Decimal("25")
    assert pos.unrealized(Decimal("160")) == Decimal("15")
