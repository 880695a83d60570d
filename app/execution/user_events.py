"""The user events an applied outcome produces (OrderUpdated, BalancesChanged, PositionsChanged).

Built in one place for both venues, so their shape cannot drift apart; they hold domain values
(app/events.py) and are rendered into frames at the edge (web/ws_render.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

from app.domain.execution import Outcome
from app.domain.positions import Position as PositionState
from app.events import Balance, BalancesChanged, OrderUpdated, PositionsChanged, UserEvent, order_fill, order_record
from app.persistence.ledger import BalanceCache, balance_rows

if TYPE_CHECKING:
    from app.persistence.models import Order

Event = UserEvent


def events_for(row: Order, outcome: Outcome, positions: list[PositionState], balances: BalanceCache) -> list[Event]:
    """The events of one applied outcome; `row` is the order as it now is, `positions` those it moved."""
    uid = row.user_id
    cause = f"{row.id}:{row.version}"
    events: list[Event] = [OrderUpdated(uid, cause, order_record(row), tuple(order_fill(f) for f in outcome.fills))]
    if outcome.entries:
        events.append(balance_update(uid, cause, [b for b in balance_rows(uid, balances)
                                                  if b[0] in outcome.touched_assets]))
    if positions:
        events.append(PositionsChanged(uid, cause, tuple(positions)))
    return events


def balance_update(user_id: int, cause: str, balances: Iterable[tuple[str, Decimal, Decimal]]) -> BalancesChanged:
    """The one BALANCE_UPDATE event of both venues, from (asset, free, locked) rows."""
    return BalancesChanged(user_id, cause, tuple(Balance(*row) for row in balances))
