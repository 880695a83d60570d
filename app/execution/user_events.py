"""The user events an applied outcome produces (ORDER_UPDATE, BALANCE_UPDATE, POSITION_UPDATE).

Built in one place for both venues, so their shape cannot drift apart; amounts are `to_str` text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.domain.execution import Outcome
from app.domain.positions import Position as PositionState
from app.money import to_str
from app.persistence.ledger import BalanceCache, user_balances
from app.render import fill_json, order_json

if TYPE_CHECKING:
    from app.persistence.models import Order

Event = dict[str, Any]


def events_for(row: Order, outcome: Outcome, positions: list[PositionState], balances: BalanceCache) -> list[Event]:
    """The events of one applied outcome; `row` is the order as it now is, `positions` those it moved."""
    uid = row.user_id
    cause = f"{row.id}:{row.version}"
    order = order_json(row)
    order["fills"] = [fill_json(f) for f in outcome.fills]  # the fills of this update
    events: list[Event] = [{"user_id": uid, "kind": "ORDER_UPDATE", "cause": cause, "data": order}]
    if outcome.entries:
        events.append(balance_update(uid, cause, [b for b in user_balances(uid, balances)
                                                  if b["asset"] in outcome.touched_assets]))
    if positions:
        events.append({"user_id": uid, "kind": "POSITION_UPDATE", "cause": cause,
                       "data": {"positions": [_position(p) for p in positions]}})
    return events


def balance_update(user_id: int, cause: str, balances: list[dict[str, str]]) -> Event:
    """The one BALANCE_UPDATE event of both venues; rows come from `balance_json`, so amounts are `to_str` text."""
    return {"user_id": user_id, "kind": "BALANCE_UPDATE", "cause": cause, "data": {"balances": balances}}


def _position(p: PositionState) -> dict[str, Any]:
    return {"asset": p.asset, "quantity": to_str(p.quantity), "avgEntryPrice": to_str(p.avg_entry),
            "realizedPnl": to_str(p.realized_pnl)}
