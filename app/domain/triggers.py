"""When stop-loss and take-profit orders trigger, as Binance defines it (pure functions).

- Fixed trigger on the last trade price: STOP_LOSS BUY and TAKE_PROFIT SELL trigger when the
  price rises to stopPrice (so stopPrice must be above the market when placed); STOP_LOSS SELL and
  TAKE_PROFIT BUY when it falls to stopPrice (below the market). An order whose condition already
  holds is rejected: "Order would trigger immediately."
- Trailing (`trailingDelta` in basis points): a SELL triggers once the price has fallen delta from
  the highest price since the order became active, a BUY once it has risen delta from the lowest.
  Without stopPrice it is active at once; with one, stopPrice is the activation price and the
  order becomes active when its fixed condition holds.
Each crossing fires once: the state after a tick is persisted with the order, and a tick that
repeats or gaps through the level finds the order already triggered.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from app.domain.orders import OrderType, Side

BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class TriggerState:
    triggered: bool
    extreme: Decimal | None  # highest (SELL) or lowest (BUY) price since activation; None: inactive


def rises_to_stop(order_type: OrderType, side: Side) -> bool:
    """True when the order triggers on a price at or above stopPrice."""
    is_stop_loss = order_type in (OrderType.STOP_LOSS, OrderType.STOP_LOSS_LIMIT)
    return (is_stop_loss and side is Side.BUY) or (not is_stop_loss and side is Side.SELL)


def _condition(order_type: OrderType, side: Side, stop: Decimal, last: Decimal) -> bool:
    return last >= stop if rises_to_stop(order_type, side) else last <= stop


def would_trigger_immediately(order_type: OrderType, side: Side, stop: Decimal | None, last: Decimal) -> bool:
    return stop is not None and _condition(order_type, side, stop, last)


def step(order_type: OrderType, side: Side, stop: Decimal | None, delta: int | None, extreme: Decimal | None,
         last: Decimal) -> TriggerState:
    """The trigger state after a trade at `last`."""
    if delta is None:
        assert stop is not None
        return TriggerState(_condition(order_type, side, stop, last), None)
    if extreme is None and stop is not None and not _condition(order_type, side, stop, last):
        return TriggerState(False, None)  # not activated yet
    if extreme is None:
        extreme = last
    extreme = max(extreme, last) if side is Side.SELL else min(extreme, last)
    offset = extreme * Decimal(delta) / BPS
    hit = last <= extreme - offset if side is Side.SELL else last >= extreme + offset
    return TriggerState(hit, extreme)
