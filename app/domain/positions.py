"""Per-asset spot positions: average entry by weighted cost, realized PnL on sales.

avg_entry and realized_pnl are reporting figures: they round half-even to 8 decimals.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from app.domain.execution import FillRecord
from app.domain.orders import Side
from app.money import ASSET_SCALE, ZERO


@dataclass(frozen=True, slots=True)
class Position:
    asset: str
    quantity: Decimal = ZERO
    avg_entry: Decimal = ZERO
    realized_pnl: Decimal = ZERO

    def unrealized(self, mark: Decimal | None) -> Decimal:
        if mark is None or self.quantity == 0:
            return ZERO
        return ((mark - self.avg_entry) * self.quantity).quantize(ASSET_SCALE)


def apply_fill(pos: Position, side: Side, fill: FillRecord) -> Position:
    if side is Side.BUY:
        qty = pos.quantity + fill.net_base
        if qty == 0:
            return pos
        avg = ((pos.quantity * pos.avg_entry + fill.net_quote) / qty).quantize(ASSET_SCALE)
        return Position(pos.asset, qty, avg, pos.realized_pnl)
    pnl = (fill.net_quote - fill.qty * pos.avg_entry).quantize(ASSET_SCALE)
    qty = pos.quantity - fill.qty
    return Position(pos.asset, qty, pos.avg_entry if qty else ZERO, pos.realized_pnl + pnl)
