"""Positions by weighted average cost; candles folded from ticks."""

from __future__ import annotations

from decimal import Decimal

from app.domain.candles import Candle, apply_tick
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


def test_candles_open_high_low_close_and_ignore_late_ticks() -> None:
    c, new = apply_tick(None, 60_000, 120_500, Decimal("10"), Decimal("1"))
    assert new and c.t == 120_000
    c, new = apply_tick(c, 60_000, 121_000, Decimal("12"), Decimal("1"))
    c, _ = apply_tick(c, 60_000, 122_000, Decimal("9"), Decimal("1"))
    assert not new and (c.o, c.h, c.l, c.c, c.v) == (Decimal("10"), Decimal("12"), Decimal("9"), Decimal("9"),
                                                       Decimal("3"))
    late, started = apply_tick(Candle(180_000, *(Decimal(1),) * 5), 60_000, 170_000, Decimal("99"), Decimal(1))
    assert not started and late.h == Decimal(1)
    nxt, started = apply_tick(c, 60_000, 180_000, Decimal("11"), Decimal("2"))
    assert started and nxt.t == 180_000 and nxt.o == Decimal("11")
