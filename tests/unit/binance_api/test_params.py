"""app/binance_api/params.py and weights.py, pure: Binance's parameter rules and the weight meter."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.binance_api import params as bp
from app.binance_api.errors import BinanceError
from app.binance_api.weights import WeightMeter, depth_weight
from app.domain.orders import OrderType, TimeInForce
from app.domain.symbols import build_specs

SPECS = build_specs(("BTCUSDT",))


def code_of(fn: object, *args: object) -> int:
    with pytest.raises(BinanceError) as refused:
        fn(*args)  # type: ignore[operator]
    return refused.value.code


def test_query_and_form_body_are_one_set_of_parameters() -> None:
    assert bp.parse("symbol=BTCUSDT&side=BUY", "type=MARKET&quantity=1") == {
        "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"}
    assert code_of(bp.parse, "symbol=A", "symbol=B") == -1101
    assert code_of(bp.parse, "symbol", "") == -1100


def test_a_new_order_follows_binances_rules_per_type() -> None:
    req, resp = bp.new_order({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                              "quantity": "0.001", "price": "100.5", "newClientOrderId": "x-R4BD3S82:a/b.c"},
                             SPECS, "dflt")
    assert (req.type, req.time_in_force, req.quantity, req.price, req.client_order_id, resp) == \
        (OrderType.LIMIT, TimeInForce.GTC, Decimal("0.001"), Decimal("100.5"), "x-R4BD3S82:a/b.c", "FULL")
    market = {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET"}
    assert code_of(bp.new_order, market, SPECS, "d") == -1102
    assert code_of(bp.new_order, {**market, "quantity": "1", "price": "1"}, SPECS, "d") == -1106
    assert code_of(bp.new_order, {**market, "quantity": "1e3"}, SPECS, "d") == -1100
    assert code_of(bp.new_order, {**market, "quantity": "1", "newClientOrderId": "a b"}, SPECS, "d") == -1100
    assert code_of(bp.new_order, {**market, "quantity": "1", "icebergQty": "1"}, SPECS, "d") == -1104
    stop = {"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_LOSS", "quantity": "1"}
    assert bp.new_order({**stop, "stopPrice": "5"}, SPECS, "d")[1] == "ACK"
    assert code_of(bp.new_order, stop, SPECS, "d") == -1102


def test_weights_per_minute_and_the_wait_past_the_limit() -> None:
    meter = WeightMeter(limit=10)
    assert meter.spend("a", 6, 60_000) == (6, None)
    assert meter.spend("b", 6, 60_500) == (6, None)  # per address
    assert meter.spend("a", 6, 61_000) == (12, 59)  # over: wait for the next minute
    assert meter.spend("a", 1, 120_000) == (1, None)
    assert [depth_weight(n) for n in (100, 500, 1000, 5000)] == [5, 25, 50, 250]
