"""Stop-loss, take-profit and trailing orders on the simulated exchange (pure functions)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain import execution, triggers
from app.domain.execution import OrderView, Outcome
from app.domain.ledger import user_free, user_locked
from app.domain.orders import OrderRejected, OrderRequest, OrderStatus, OrderType, Side, TimeInForce, check_request
from tests.support.quotes import BTC, FEE, HOUSE, WALLET, D, after, quote


def stop(side: Side, type_: OrderType, qty: str = "0.1", stop_price: str | None = "60000", price: str | None = None,
         delta: int | None = None) -> OrderView:
    return OrderView(1, 7, "BTCUSDT", side, type_, TimeInForce.GTC if price else None, D(qty), None,
                     D(price) if price else None, OrderStatus.PENDING, stop_price=D(stop_price) if stop_price else None,
                     trailing_delta=delta)


def sums(*outcomes: Outcome) -> dict[tuple[str, str], Decimal]:
    total: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for out in outcomes:
        for e in out.entries:
            for p in e.postings:
                total[(p.account, p.asset)] += p.delta
    return total


@pytest.mark.parametrize(("type_", "side", "rises"), [
    (OrderType.STOP_LOSS, Side.BUY, True), (OrderType.TAKE_PROFIT, Side.SELL, True),
    (OrderType.STOP_LOSS, Side.SELL, False), (OrderType.TAKE_PROFIT, Side.BUY, False),
    (OrderType.STOP_LOSS_LIMIT, Side.SELL, False), (OrderType.TAKE_PROFIT_LIMIT, Side.SELL, True),
])
def test_trigger_direction_follows_binance(type_: OrderType, side: Side, rises: bool) -> None:
    assert triggers.rises_to_stop(type_, side) is rises
    assert triggers.would_trigger_immediately(type_, side, D("100"), D("101")) is rises
    assert triggers.would_trigger_immediately(type_, side, D("100"), D("99")) is not rises


def test_trailing_sell_triggers_a_delta_below_the_highest_price_since_placing() -> None:
    t = OrderType.STOP_LOSS
    state = triggers.step(t, Side.SELL, None, 100, None, D("100"))
    assert state == triggers.TriggerState(False, D("100"))
    state = triggers.step(t, Side.SELL, None, 100, state.extreme, D("105"))
    assert state == triggers.TriggerState(False, D("105"))
    assert not triggers.step(t, Side.SELL, None, 100, D("105"), D("104")).triggered  # 1 % of 105 is 1.05
    assert triggers.step(t, Side.SELL, None, 100, D("105"), D("103.95")).triggered


def test_trailing_with_an_activation_price_waits_for_it() -> None:
    t = OrderType.TAKE_PROFIT
    assert triggers.step(t, Side.SELL, D("110"), 100, None, D("105")) == triggers.TriggerState(False, None)
    active = triggers.step(t, Side.SELL, D("110"), 100, None, D("110"))
    assert active == triggers.TriggerState(False, D("110"))
    peak = triggers.step(t, Side.SELL, D("110"), 100, active.extreme, D("120"))
    assert triggers.step(t, Side.SELL, D("110"), 100, peak.extreme, D("118.8")).triggered
    low = triggers.step(OrderType.STOP_LOSS, Side.BUY, None, 200, D("50"), D("51"))
    assert low == triggers.TriggerState(True, D("50"))  # 2 % above the lowest price


def test_request_rules_for_trigger_orders() -> None:
    ok = check_request(OrderRequest("c", "BTCUSDT", Side.SELL, OrderType.STOP_LOSS, quantity=D("0.1"),
                                    stop_price=D("60000")), BTC)
    assert ok.time_in_force is None
    limit = check_request(OrderRequest("c", "BTCUSDT", Side.SELL, OrderType.STOP_LOSS_LIMIT, quantity=D("0.1"),
                                       price=D("59900"), stop_price=D("60000")), BTC)
    assert limit.time_in_force is TimeInForce.GTC
    bad = [
        (OrderType.STOP_LOSS, {"quantity": D("0.1")}, "needs stopPrice, trailingDelta, or both"),
        (OrderType.STOP_LOSS, {"quantity": D("0.1"), "stop_price": D("1"), "price": D("1")}, "not allowed"),
        (OrderType.STOP_LOSS_LIMIT, {"quantity": D("0.1"), "stop_price": D("60000")}, "needs quantity and price"),
        (OrderType.STOP_LOSS, {"quantity": D("0.1"), "stop_price": D("60000.001")}, "stopPrice must be a multiple"),
        (OrderType.TAKE_PROFIT, {"quantity": D("0.1"), "trailing_delta": 5}, "TRAILING_DELTA"),
        (OrderType.LIMIT, {"quantity": D("0.1"), "price": D("1000"), "stop_price": D("9")}, "only for stop-loss"),
    ]
    for type_, fields, message in bad:
        with pytest.raises(OrderRejected) as err:
            check_request(OrderRequest("c", "BTCUSDT", Side.SELL, type_, **fields), BTC)  # type: ignore[arg-type]
        assert message in err.value.message


def test_stop_on_the_wrong_side_of_the_market_would_trigger_immediately() -> None:
    out = execution.place(stop(Side.SELL, OrderType.STOP_LOSS, stop_price="70000"), quote("67000"), BTC, WALLET, FEE,
                          HOUSE)
    assert out.status is OrderStatus.REJECTED and out.reason == "Order would trigger immediately."
    assert not out.entries


def test_stop_loss_sell_reserves_its_base_then_fires_once_at_market_even_through_a_gap() -> None:
    view = stop(Side.SELL, OrderType.STOP_LOSS)
    placed = execution.place(view, quote("67000"), BTC, WALLET, FEE, HOUSE)
    assert placed.status is OrderStatus.NEW and placed.locked == D("0.1")
    view = after(view, placed)
    assert execution.on_quote(view, quote("60001", 2), BTC, FEE, HOUSE, WALLET) is None
    gap = quote("55000", 3)  # the price gaps through the stop: it sells at the market, not at 60000
    fired = execution.on_quote(view, gap, BTC, FEE, HOUSE, WALLET)
    assert fired is not None and fired.status is OrderStatus.FILLED and fired.triggered is True
    assert fired.fills[0].price == gap.bid and fired.locked == 0
    books = sums(placed, fired)
    assert books[(user_locked(7), "BTC")] == 0
    assert books[(user_free(7), "BTC")] == D("-0.1")
    done = after(view, fired)
    assert execution.on_quote(done, gap, BTC, FEE, HOUSE, WALLET) is None, "a repeated tick fires nothing"


def test_stop_loss_limit_becomes_a_resting_limit_when_triggered() -> None:
    view = stop(Side.SELL, OrderType.STOP_LOSS_LIMIT, stop_price="60000", price="60500")
    placed = execution.place(view, quote("67000"), BTC, WALLET, FEE, HOUSE)
    view = after(view, placed)
    fired = execution.on_quote(view, quote("59990", 2), BTC, FEE, HOUSE, WALLET)
    assert fired is not None and fired.status is OrderStatus.NEW and fired.triggered is True and not fired.fills
    working = after(view, fired)
    assert not execution.waiting_for_trigger(working)
    filled = execution.on_quote(working, quote("60600", 3), BTC, FEE, HOUSE, WALLET)
    assert filled is not None and filled.status is OrderStatus.FILLED and filled.fills[0].price == D("60500")
    assert sums(placed, fired, filled)[(user_locked(7), "BTC")] == 0


def test_buy_stop_that_cannot_pay_after_a_gap_expires_and_releases_its_reservation() -> None:
    view = stop(Side.BUY, OrderType.STOP_LOSS, qty="1", stop_price="68000")
    wallet = {"USDT": D("68100"), "BTC": D("0")}
    placed = execution.place(view, quote("67000"), BTC, wallet, FEE, HOUSE)
    assert placed.status is OrderStatus.NEW and placed.locked == D("68000")
    view = after(view, placed)
    fired = execution.on_quote(view, quote("75000", 2), BTC, FEE, HOUSE, {"USDT": D("100")})
    assert fired is not None and fired.status is OrderStatus.EXPIRED and "insufficient balance" in (fired.reason or "")
    assert sums(placed, fired)[(user_locked(7), "USDT")] == 0


def test_trailing_extreme_moves_are_persisted_without_fills() -> None:
    view = stop(Side.SELL, OrderType.STOP_LOSS, stop_price=None, delta=100)
    placed = execution.place(view, quote("67000"), BTC, WALLET, FEE, HOUSE)
    assert placed.trail_extreme == D("67000")
    view = after(view, placed)
    moved = execution.on_quote(view, quote("68000", 2), BTC, FEE, HOUSE, WALLET)
    assert moved is not None and moved.status is OrderStatus.NEW and moved.trail_extreme == D("68000")
    assert not moved.entries and not moved.fills
    view = after(view, moved)
    assert execution.on_quote(view, quote("67500", 3), BTC, FEE, HOUSE, WALLET) is None
    fired = execution.on_quote(view, quote("67320", 4), BTC, FEE, HOUSE, WALLET)  # 68000 × 0.99
    assert fired is not None and fired.status is OrderStatus.FILLED


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=50_000, max_value=80_000), min_size=1, max_size=40),
       st.sampled_from([None, 50, 300]))
def test_a_stop_fires_at_most_once_and_the_books_balance(path: list[int], delta: int | None) -> None:
    view = stop(Side.SELL, OrderType.STOP_LOSS, stop_price="60000" if delta is None else None, delta=delta)
    placed = execution.place(view, quote("67000"), BTC, WALLET, FEE, HOUSE)
    view, outcomes, fills = after(view, placed), [placed], 0
    for ts, price in enumerate(path, start=2):
        out = execution.on_quote(view, quote(str(price), ts), BTC, FEE, HOUSE, WALLET)
        if out is not None:
            outcomes.append(out)
            fills += len(out.fills)
            view = after(view, out)
    assert fills <= 1 if delta is None else fills <= 25  # one market execution, walking the book at most
    assert sum(1 for o in outcomes if o.triggered) <= 1
    books = sums(*outcomes)
    per_asset: dict[str, Decimal] = defaultdict(Decimal)
    for (_, asset), amount in books.items():
        per_asset[asset] += amount
    assert all(v == 0 for v in per_asset.values()), "every entry balances"
    if view.status in (OrderStatus.FILLED, OrderStatus.EXPIRED):
        assert books[(user_locked(7), "BTC")] == 0
