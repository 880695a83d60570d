"""Symbol filters (PRICE_FILTER, LOT_SIZE, NOTIONAL): each refusal names its filter and bounds exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.domain.symbols import KNOWN_SPECS, build_specs, spec_for

D = Decimal
BTC = spec_for("BTCUSDT")
DOGE = spec_for("DOGEUSDT")


@pytest.mark.parametrize(("price", "error"), [
    ("67250.01", None),
    ("0.01", None),
    ("1000000", None),
    ("0.001", "PRICE_FILTER: price must be between 0.01 and 1000000"),
    ("1000000.01", "PRICE_FILTER: price must be between 0.01 and 1000000"),
    ("67250.001", "PRICE_FILTER: price must be a multiple of tickSize 0.01"),
])
def test_price_filter(price: str, error: str | None) -> None:
    assert BTC.price_error(D(price)) == error


@pytest.mark.parametrize(("qty", "error"), [
    ("0.00001", None),
    ("9000", None),
    ("0.000001", "LOT_SIZE: quantity must be between 0.00001 and 9000"),
    ("9000.00001", "LOT_SIZE: quantity must be between 0.00001 and 9000"),
    ("0.000015", "LOT_SIZE: quantity must be a multiple of stepSize 0.00001"),
])
def test_lot_size_filter(qty: str, error: str | None) -> None:
    assert BTC.qty_error(D(qty)) == error


def test_notional_filter() -> None:
    assert BTC.notional_error(D("5")) is None
    assert BTC.notional_error(D("4.99999999")) == "NOTIONAL: order value must be at least 5 USDT"


def test_doge_filters_are_whole_coins_at_five_decimals() -> None:
    assert DOGE.qty_error(D("1.5")) == "LOT_SIZE: quantity must be a multiple of stepSize 1"
    assert DOGE.price_error(D("0.142105")) == "PRICE_FILTER: price must be a multiple of tickSize 0.00001"


def test_exchange_info_json_is_binances_shape_with_plain_decimals() -> None:
    assert BTC.to_json() == {
        "symbol": "BTCUSDT", "baseAsset": "BTC", "quoteAsset": "USDT", "status": "TRADING",
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "0.01", "maxPrice": "1000000", "tickSize": "0.01"},
            {"filterType": "LOT_SIZE", "minQty": "0.00001", "maxQty": "9000", "stepSize": "0.00001"},
            {"filterType": "NOTIONAL", "minNotional": "5"},
        ]}


def test_unknown_usdt_pairs_get_generic_filters() -> None:
    spec = spec_for("ADAUSDT")
    assert "ADAUSDT" not in KNOWN_SPECS
    assert (spec.base, spec.quote, spec.tick_size, spec.step_size, spec.start_price) == (
        "ADA", "USDT", D("0.01"), D("0.001"), D("100.00"))
    assert build_specs(("BTCUSDT", "ADAUSDT")) == {"BTCUSDT": BTC, "ADAUSDT": spec}
