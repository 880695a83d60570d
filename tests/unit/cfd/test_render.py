"""The desk's JSON (pure): a projection row with live mark and PnL, events as REST bodies and frames."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from app.cfd.inputs import Event
from app.cfd.render import cfd_position_json, changed_json, reply_json
from app.cfd.rules import Direction, Position, mark_and_upnl
from app.events import CfdChanged
from tests.support.cfd import D

POSITION = Position(4, 7, "BTCUSDT", Direction.SHORT, D(100), D(10), D("100.5"), D("9.95024875"), D("109.95"))


def row(**changes: Any) -> SimpleNamespace:
    fields = {"id": 4, "symbol": "BTCUSDT", "direction": "SHORT", "status": "OPEN", "margin": D(100),
              "leverage": D(10), "entry_price": D("100.5"), "quantity": D("9.95024875"),
              "liquidation_price": D("109.95"), "stop_loss": None, "take_profit": D(90), "open_fee": D("0.4"),
              "exit_price": None, "pnl": None, "close_fee": None, "payout": None, "opened_at": 5, "closed_at": None,
              "version": 1}
    return SimpleNamespace(**{**fields, **changes})


def test_an_open_row_shows_the_mark_and_pnl_of_the_rules_and_a_closed_one_none() -> None:
    shown = cfd_position_json(row(), D(99), D("99.5"))
    mark, pnl = mark_and_upnl(Direction.SHORT, D("100.5"), D("9.95024875"), D(99), D("99.5"))
    assert (shown["markPrice"], shown["unrealizedPnl"]) == (str(mark), "9.95024875") and pnl == D("9.95024875")
    assert shown["stopLossPrice"] is None and shown["takeProfitPrice"] == "90" and shown["version"] == 1
    assert "markPrice" not in cfd_position_json(row()), "no price, no live PnL"
    closed = cfd_position_json(row(status="CLOSED", exit_price=D(99), pnl=D("14.9"), payout=D(114)), D(1), D(2))
    assert "unrealizedPnl" not in closed and closed["realizedPnl"] == "14.9" and closed["payout"] == "114"


def update_json(event: Event, balance: Decimal) -> dict[str, Any]:
    """The CFD_UPDATE frame's data of an engine event, through the typed user event the desk publishes."""
    return changed_json(CfdChanged.of(event, "cfd:0:1", balance))


def test_events_render_the_same_values_for_rest_and_websocket() -> None:
    opened = Event(7, "OPENED", {"cmdId": "u7:a", "position": POSITION, "fee": D("0.40"), "balance": D("899.6")})
    assert reply_json(opened) == {"position": update_json(opened, D("899.6"))["position"], "fee": "0.4",
                                  "balance": "899.6"}
    assert update_json(opened, D("899.6"))["account"] == {"balance": "899.6"}
    assert update_json(opened, D(1))["event"] == "OPENED" and reply_json(opened)["position"]["entryPrice"] == "100.5"
    refused = Event(7, "REJECTED", {"cmdId": "u7:b", "reason": "no", "field": "margin", "code": "NO_FUNDS"})
    assert reply_json(refused) == {"detail": "no", "field": "margin", "code": "NO_FUNDS"}
    moved = Event(7, "TRANSFERRED", {"cmdId": "u7:c", "amount": D("-5.0"), "balance": D(5)})
    assert reply_json(moved) == {"amount": "-5", "balance": "5"}
