"""OCO lists on the simulated exchange (pure functions): exactly one leg executes."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain import oco
from app.domain.execution import OrderView, Outcome
from app.domain.ledger import user_locked
from app.domain.orders import OrderRejected, OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from tests.support.quotes import BTC, FEE, HOUSE, WALLET, D, after, quote


def legs(side: Side = Side.SELL, price: str = "70000", stop: str = "60000",
         stop_limit: str | None = None) -> tuple[OrderView, OrderView]:
    tp_req, sl_req = oco.leg_requests("L1", "BTCUSDT", side, D("0.5"), D(price), D(stop), None,
                                      D(stop_limit) if stop_limit else None, None, None, BTC)

    def view(i: int, req: OrderRequest) -> OrderView:
        return OrderView(i, 7, "BTCUSDT", req.side, req.type, req.time_in_force, req.quantity, None, req.price,
                         OrderStatus.PENDING, stop_price=req.stop_price, trailing_delta=req.trailing_delta,
                         order_list_id=1)
    return view(1, tp_req), view(2, sl_req)


def locked_sum(outcomes: list[Outcome], asset: str) -> Decimal:
    total = D(0)
    for out in outcomes:
        for e in out.entries:
            total += sum((p.delta for p in e.postings if p.account == user_locked(7) and p.asset == asset), D(0))
    return total


def test_legs_are_a_limit_maker_and_a_stop() -> None:
    tp, sl = legs()
    assert (tp.type, sl.type) == (OrderType.LIMIT_MAKER, OrderType.STOP_LOSS)
    _, sl = legs(stop_limit="59900")
    assert sl.type is OrderType.STOP_LOSS_LIMIT and sl.time_in_force is TimeInForce.GTC
    with pytest.raises(OrderRejected, match="take-profit price must be above the stop price"):
        legs(price="60000", stop="61000")


def test_placing_reserves_once_and_rejects_both_when_one_leg_is_wrong() -> None:
    tp, sl = legs()
    a, b = oco.place(tp, sl, quote("65000"), BTC, WALLET)
    assert (a.status, b.status) == (OrderStatus.NEW, OrderStatus.NEW)
    assert (a.locked, b.locked) == (D("0.5"), 0) and locked_sum([a, b], "BTC") == D("0.5")
    a, b = oco.place(tp, sl, quote("59000"), BTC, WALLET)  # the stop is above the market already
    assert a.status is b.status is OrderStatus.REJECTED and "would trigger immediately" in (a.reason or "")
    a, b = oco.place(tp, sl, quote("71000"), BTC, WALLET)  # the take-profit would take
    assert a.status is b.status is OrderStatus.REJECTED and "immediately match and take" in (b.reason or "")
    a, b = oco.place(tp, sl, quote("65000"), BTC, {"BTC": D("0.1")})
    assert a.status is b.status is OrderStatus.REJECTED and not a.entries


def placed() -> tuple[OrderView, OrderView, list[Outcome]]:
    """A SELL OCO (take-profit 70000, stop 60000) placed with the market at 65000."""
    tp, sl = legs()
    a, b = oco.place(tp, sl, quote("65000"), BTC, WALLET)
    return after(tp, a), after(sl, b), [a, b]


def test_the_stop_firing_cancels_the_take_profit_and_takes_over_its_reservation() -> None:
    tp, sl, (a, b) = placed()
    steps = oco.on_quote(sl, tp, quote("59000", 2), BTC, FEE, HOUSE, WALLET)
    assert [(v.id, o.status) for v, o in steps] == [(1, OrderStatus.EXPIRED), (2, OrderStatus.FILLED)]
    assert "other order of its OCO" in (steps[0][1].reason or "")
    assert locked_sum([a, b, *(o for _, o in steps)], "BTC") == 0


def test_the_take_profit_filling_cancels_the_stop() -> None:
    tp, sl, _ = placed()
    steps = oco.on_quote(tp, sl, quote("70100", 2), BTC, FEE, HOUSE, WALLET)
    assert [(v.id, o.status) for v, o in steps] == [(2, OrderStatus.EXPIRED), (1, OrderStatus.PARTIALLY_FILLED)]
    assert steps[1][1].fills[0].price == D("70000")
    tp = after(tp, steps[1][1])
    sl = after(sl, steps[0][1])
    assert oco.on_quote(sl, tp, quote("50000", 3), BTC, FEE, HOUSE, WALLET) == [], "a canceled leg never fires"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=55_000, max_value=75_000), min_size=1, max_size=30),
       st.sampled_from([Side.SELL, Side.BUY]))
def test_exactly_one_leg_ever_executes_and_reservations_come_back(path: list[int], side: Side) -> None:
    tp, sl = legs(side, price="70000" if side is Side.SELL else "60000",
                  stop="60000" if side is Side.SELL else "70000")
    a, b = oco.place(tp, sl, quote("65000"), BTC, WALLET)
    views = {1: after(tp, a), 2: after(sl, b)}
    outcomes = [a, b]
    executed: set[int] = set()
    for ts, price in enumerate(path, start=2):
        for leg_id in (1, 2):
            leg, other = views[leg_id], views[3 - leg_id]
            for view, out in oco.on_quote(leg, other, quote(str(price), ts), BTC, FEE, HOUSE, WALLET):
                outcomes.append(out)
                if out.fills or out.triggered:
                    executed.add(view.id)
                views[view.id] = after(view, out)
    assert len(executed) <= 1
    asset = "BTC" if side is Side.SELL else "USDT"
    terminal = all(v.status in (OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED)
                   for v in views.values())
    reserved = locked_sum(outcomes, asset)
    assert reserved == sum((v.locked for v in views.values()), D(0))
    if terminal:
        assert reserved == 0
    per_asset: dict[str, Decimal] = defaultdict(Decimal)
    for out in outcomes:
        for e in out.entries:
            for p in e.postings:
                per_asset[p.asset] += p.delta
    assert all(v == 0 for v in per_asset.values())
