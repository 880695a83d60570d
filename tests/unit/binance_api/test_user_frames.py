"""Binance's user data events from Troupe's typed events: every executionReport field, the NEW before
an order's first change, the cumulative amounts stepping fill by fill, exact decimals."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from app.binance_api.user_frames import (
    TradeRef,
    account_position,
    execution_reports,
    frames_of,
    list_status,
    listen_key_expired,
    wrapped,
)
from app.domain.orders import OrderStatus, OrderType, Side, TimeInForce
from app.events import Balance, BalancesChanged, CfdChanged, OrderFill, OrderRecord, OrderUpdated, UserEvent
from tests.support.helpers import EVERY_EVENT

LIMIT = OrderRecord(
    id=42, client_order_id="bot-1", symbol="BTCUSDT", side=Side.BUY, type=OrderType.LIMIT,
    time_in_force=TimeInForce.GTC, price=Decimal("60000.10"), quantity=Decimal("0.003"), quote_order_qty=None,
    executed_qty=Decimal("0.003"), cumm_quote_qty=Decimal("180000.30"), status=OrderStatus.FILLED,
    reject_reason=None, stop_price=None, trailing_delta=None, triggered=False, order_list_id=None,
    created_at=1_000, updated_at=2_000, version=1)
FILLS = (OrderFill(1, Decimal("60000.10"), Decimal("0.001"), Decimal("0.00000100"), "BTC", maker=False),
         OrderFill(2, Decimal("60000.10"), Decimal("0.002"), Decimal("0.000002"), "BTC", maker=True))
FIELDS = set("e E s c S o f q p P F g C x X r i l z L n N T t I w m M O Z Y Q W V".split())


def test_a_first_change_with_fills_is_new_then_one_trade_per_fill() -> None:
    trades = {1: TradeRef(901, Decimal("60.0001")), 2: TradeRef(902, Decimal("120.0002"))}
    reports = execution_reports(OrderUpdated(7, "42:1", LIMIT, FILLS), 5_000, trades)
    assert [set(r) for r in reports] == [FIELDS] * 3
    new, first, second = reports
    assert (new["x"], new["X"], new["z"], new["Z"], new["l"], new["t"], new["N"]) == ("NEW", "NEW", "0", "0", "0", -1,
                                                                                       None)
    assert (first["x"], first["X"], first["l"], first["L"], first["z"], first["t"]) == (
        "TRADE", "PARTIALLY_FILLED", "0.001", "60000.1", "0.001", 901)
    assert (first["Y"], first["n"], first["N"], first["m"]) == ("60.0001", "0.000001", "BTC", False)
    assert (second["X"], second["z"], second["Y"], second["t"], second["m"]) == ("FILLED", "0.003", "120.0002", 902,
                                                                                  True)
    # The cumulative quote ends at the order's own, whatever the fills' rows said before it.
    assert second["Z"] == "180000.3" and first["Z"] == str(Decimal("180000.30") - Decimal("120.0002"))
    assert {(r["e"], r["E"], r["s"], r["c"], r["S"], r["o"], r["f"], r["q"], r["p"], r["i"], r["O"], r["g"])
            for r in reports} == {("executionReport", 5_000, "BTCUSDT", "bot-1", "BUY", "LIMIT", "GTC", "0.003",
                                   "60000.1", 42, 1_000, -1)}


def test_changes_without_fills() -> None:
    resting = replace(LIMIT, status=OrderStatus.NEW, executed_qty=Decimal(0), cumm_quote_qty=Decimal(0))
    (new,) = execution_reports(OrderUpdated(7, "42:1", resting), 5)
    assert (new["x"], new["X"], new["w"], new["C"], new["r"]) == ("NEW", "NEW", True, "", "NONE")
    canceled = replace(resting, status=OrderStatus.CANCELED, version=2)
    (gone,) = execution_reports(OrderUpdated(7, "42:2", canceled), 5)
    assert (gone["x"], gone["X"], gone["C"], gone["w"]) == ("CANCELED", "CANCELED", "bot-1", False)
    refused = replace(resting, status=OrderStatus.REJECTED, reject_reason="insufficient balance: 1 USDT free")
    new, rejected = execution_reports(OrderUpdated(7, "42:1", refused), 5)
    assert (new["x"], rejected["x"], rejected["X"], rejected["r"]) == ("NEW", "REJECTED", "REJECTED",
                                                                       "INSUFFICIENT_BALANCE")
    stop = replace(resting, type=OrderType.STOP_LOSS_LIMIT, stop_price=Decimal("59000"), trailing_delta=150,
                   status=OrderStatus.PENDING, version=2)
    (waiting,) = execution_reports(OrderUpdated(7, "42:2", stop), 5)
    assert (waiting["X"], waiting["P"], waiting["d"], waiting["w"]) == ("NEW", "59000", 150, False)


def test_balances_and_the_wrappers() -> None:
    event = BalancesChanged(7, "c", (Balance("BTC", Decimal("0.00300000"), Decimal("0")),
                                     Balance("USDT", Decimal("9819.9997"), Decimal("1.5"))))
    assert account_position(event, 9) == {"e": "outboundAccountPosition", "E": 9, "u": 9, "B": [
        {"a": "BTC", "f": "0.003", "l": "0"}, {"a": "USDT", "f": "9819.9997", "l": "1.5"}]}
    assert wrapped(3, {"e": "x"}) == {"subscriptionId": 3, "event": {"e": "x"}}
    assert listen_key_expired("k" * 60, 1) == {"e": "listenKeyExpired", "E": 1, "listenKey": "k" * 60}


@pytest.mark.parametrize("event", EVERY_EVENT, ids=lambda e: type(e).__name__)
def test_every_troupe_event_renders_or_is_nothing_binance_has(event: UserEvent) -> None:
    frames = frames_of(event, 1)
    assert all(f["e"] in ("executionReport", "outboundAccountPosition", "balanceUpdate") for f in frames)
    transfer = isinstance(event, CfdChanged) and event.event == "TRANSFERRED" and not (event.cmd_id or "").startswith(
        "grant:")
    assert bool(frames) == (isinstance(event, OrderUpdated | BalancesChanged) or transfer)


def test_a_transfer_between_spot_and_margin_is_a_balance_update_of_the_spot_wallet() -> None:
    """Binance's balanceUpdate for a transfer between accounts: `d` is the spot wallet's change; the
    house's starting-margin grant never touches the spot wallet and is no event."""
    def moved(amount: str, cmd_id: str) -> list[dict[str, Any]]:
        return frames_of(CfdChanged(7, "c", event="TRANSFERRED", account_balance=Decimal(0), cmd_id=cmd_id,
                                    amount=Decimal(amount), balance=Decimal(0)), 5)
    assert moved("250.5", "t1") == [{"e": "balanceUpdate", "E": 5, "a": "USDT", "d": "-250.5", "T": 5}]
    assert moved("-0.00000001", "t2") == [{"e": "balanceUpdate", "E": 5, "a": "USDT", "d": "0.00000001", "T": 5}]
    assert moved("1000", "grant:7") == []


def test_an_oco_list_status_names_its_legs() -> None:
    tp = replace(LIMIT, id=50, client_order_id="grid-7-tp", order_list_id=50, type=OrderType.LIMIT_MAKER,
                 status=OrderStatus.NEW)
    sl = replace(tp, id=51, client_order_id="grid-7-sl", type=OrderType.STOP_LOSS, status=OrderStatus.PENDING)
    started = list_status([tp, sl], 77)
    assert started == {"e": "listStatus", "E": 77, "s": "BTCUSDT", "g": 50, "c": "OCO", "l": "EXEC_STARTED",
                       "L": "EXECUTING", "r": "NONE", "C": "grid-7", "T": 77,
                       "O": [{"s": "BTCUSDT", "i": 50, "c": "grid-7-tp"}, {"s": "BTCUSDT", "i": 51, "c": "grid-7-sl"}]}
    done = list_status([replace(tp, status=OrderStatus.FILLED), replace(sl, status=OrderStatus.EXPIRED)], 78)
    assert (done["l"], done["L"]) == ("ALL_DONE", "ALL_DONE")
