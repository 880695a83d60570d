"""Binance answers become the domain's objects exactly: statuses, fills net of fees, outcomes, filters."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from app.domain.execution import FillRecord, OrderView, Outcome
from app.domain.orders import OrderStatus, OrderType, Side, TimeInForce
from app.domain.symbols import spec_for
from app.exchange.translate import (
    balances_of,
    fill_record,
    outcome_of,
    rejected,
    specs_from_exchange_info,
    status_of,
)

D = Decimal
BTC = spec_for("BTCUSDT")


@pytest.mark.parametrize(("binance", "executed", "ours"), [
    ("NEW", "0", OrderStatus.NEW),
    ("NEW", "0.00000000", OrderStatus.NEW),
    ("NEW", "0.001", OrderStatus.PARTIALLY_FILLED),
    ("PENDING_NEW", "0", OrderStatus.NEW),
    ("PARTIALLY_FILLED", "0.5", OrderStatus.PARTIALLY_FILLED),
    ("PENDING_CANCEL", "0.5", OrderStatus.PARTIALLY_FILLED),
    ("FILLED", "1", OrderStatus.FILLED),
    ("CANCELED", "0", OrderStatus.CANCELED),
    ("CANCELED", "0.3", OrderStatus.CANCELED),
    ("REJECTED", "0", OrderStatus.REJECTED),
    ("EXPIRED", "0", OrderStatus.EXPIRED),
    ("EXPIRED_IN_MATCH", "0", OrderStatus.EXPIRED),
])
def test_status_of_maps_every_binance_status(binance: str, executed: str, ours: OrderStatus) -> None:
    assert status_of({"status": binance, "executedQty": executed}) is ours


def test_status_of_without_executed_qty_is_the_plain_status() -> None:
    assert status_of({"status": "NEW"}) is OrderStatus.NEW


@pytest.mark.parametrize("binance", ["PENDING", "new", "", None])
def test_status_of_refuses_an_unknown_status(binance: str | None) -> None:
    with pytest.raises(ValueError, match="unexpected Binance order status"):
        status_of({"status": binance})


@pytest.mark.parametrize(("side", "fill", "expected"), [
    # BUY, fee in the base asset: the position gets the quantity less the fee.
    (Side.BUY, {"price": "67250.01", "qty": "0.00123", "commission": "0.00000123", "commissionAsset": "BTC"},
     FillRecord(3, D("67250.01"), D("0.00123"), D("82.7175123"), D("0.00000123"), "BTC",
                D("0.00122877"), D("82.7175123"))),
    # BUY, fee in BNB: neither leg of the trade pays it.
    (Side.BUY, {"price": "100.5", "qty": "2", "commission": "0.0004", "commissionAsset": "BNB"},
     FillRecord(3, D("100.5"), D("2"), D("201.0"), D("0.0004"), "BNB", D("2"), D("201.0"))),
    # SELL, fee in the quote asset: the proceeds are net of it.
    (Side.SELL, {"price": "67250.00000000", "qty": "0.50000000", "commission": "33.625", "commissionAsset": "USDT"},
     FillRecord(3, D("67250.00000000"), D("0.50000000"), D("33625.0000000000000000"), D("33.625"), "USDT",
                D("0.50000000"), D("33591.3750000000000000"))),
    # SELL, fee in the base asset: Binance took it elsewhere, the sale is whole.
    (Side.SELL, {"price": "3", "qty": "7", "commission": "0.007", "commissionAsset": "BTC"},
     FillRecord(3, D("3"), D("7"), D("21"), D("0.007"), "BTC", D("7"), D("21"))),
])
def test_fill_record_counts_the_fee_where_it_was_charged(side: Side, fill: dict[str, str],
                                                          expected: FillRecord) -> None:
    record = fill_record(3, side, BTC, fill)
    assert record == expected
    assert (str(record.net_base), str(record.net_quote)) == (str(expected.net_base), str(expected.net_quote))


def test_fill_record_accepts_numbers_as_binance_may_send_them() -> None:
    record = fill_record(1, Side.BUY, BTC, {"price": 10, "qty": 2, "commission": 0, "commissionAsset": "BNB"})
    assert record == FillRecord(1, D(10), D(2), D(20), D(0), "BNB", D(2), D(20))


def view(**changes: object) -> OrderView:
    base = OrderView(id=9, user_id=4, symbol="BTCUSDT", side=Side.BUY, type=OrderType.LIMIT,
                     time_in_force=TimeInForce.GTC, quantity=D("1"), quote_order_qty=None, price=D("100"),
                     status=OrderStatus.NEW)
    return replace(base, **changes)  # type: ignore[arg-type]


F1 = {"price": "100", "qty": "0.4", "commission": "0.0004", "commissionAsset": "BTC"}
F2 = {"price": "99.99", "qty": "0.6", "commission": "0.0006", "commissionAsset": "BTC"}


def test_outcome_of_records_only_the_fills_not_yet_recorded() -> None:
    order = {"status": "FILLED", "executedQty": "1.00000000", "cummulativeQuoteQty": "99.99400000"}
    partly = view(status=OrderStatus.PARTIALLY_FILLED, executed_qty=D("0.4"), cumm_quote_qty=D("40"), fill_count=1)
    out = outcome_of(partly, BTC, order, [F1, F2])
    assert out == Outcome(OrderStatus.FILLED, D("1"), D("99.994"), D(0),
                          (FillRecord(2, D("99.99"), D("0.6"), D("59.994"), D("0.0006"), "BTC", D("0.5994"),
                                      D("59.994")),),
                          reason=None, touched_assets=frozenset({"BTC", "USDT"}))


def test_outcome_of_records_every_fill_of_a_fresh_order_in_sequence() -> None:
    order = {"status": "FILLED", "executedQty": "1", "cummulativeQuoteQty": "99.994"}
    out = outcome_of(view(), BTC, order, [F1, F2])
    assert out is not None
    assert [(f.seq, f.price, f.qty) for f in out.fills] == [(1, D("100"), D("0.4")), (2, D("99.99"), D("0.6"))]


def test_the_same_answer_applied_twice_records_nothing_twice() -> None:
    order = {"status": "FILLED", "executedQty": "1", "cummulativeQuoteQty": "99.994"}
    done = view(status=OrderStatus.FILLED, executed_qty=D("1"), cumm_quote_qty=D("99.994"), fill_count=2)
    assert outcome_of(done, BTC, order, [F1, F2]) is None
    assert outcome_of(done, BTC, order, None) is None


def test_outcome_of_a_status_change_without_fills() -> None:
    out = outcome_of(view(), BTC, {"status": "CANCELED", "executedQty": "0", "cummulativeQuoteQty": "0"}, None)
    assert out == Outcome(OrderStatus.CANCELED, D(0), D(0), D(0), (), reason=None,
                          touched_assets=frozenset({"BTC", "USDT"}))


def test_an_unavailable_cumulative_quote_is_taken_from_the_fills() -> None:
    order = {"status": "FILLED", "executedQty": "1", "cummulativeQuoteQty": "-1.00000000"}
    partly = view(status=OrderStatus.PARTIALLY_FILLED, executed_qty=D("0.4"), cumm_quote_qty=D("40"), fill_count=1)
    out = outcome_of(partly, BTC, order, [F1, F2])
    assert out is not None and out.cumm_quote_qty == D("99.994")


def test_balances_of_reads_every_row_exactly() -> None:
    account = {"balances": [{"asset": "USDT", "free": "1234.56789012", "locked": "0.00000001"},
                            {"asset": "BTC", "free": "0.00000000", "locked": "0.00000000"}]}
    assert balances_of(account) == [("USDT", D("1234.56789012"), D("0.00000001")), ("BTC", D(0), D(0))]
    assert balances_of({}) == []


def test_rejected_carries_its_reason_and_nothing_else() -> None:
    assert rejected("Filter failure: LOT_SIZE") == Outcome(OrderStatus.REJECTED, D(0), D(0), D(0),
                                                            reason="Filter failure: LOT_SIZE")


def test_exchange_info_filters_replace_ours() -> None:
    info = {"symbols": [{"symbol": "BTCUSDT", "baseAsset": "BTC", "quoteAsset": "USDT", "filters": [
        {"filterType": "PRICE_FILTER", "minPrice": "0.01000000", "maxPrice": "1000000.00000000",
         "tickSize": "0.01000000"},
        {"filterType": "LOT_SIZE", "minQty": "0.00001000", "maxQty": "9000.00000000", "stepSize": "0.00001000"},
        {"filterType": "NOTIONAL", "minNotional": "10.00000000"},
    ]}]}
    spec = specs_from_exchange_info(info, {"BTCUSDT": BTC})["BTCUSDT"]
    assert spec == replace(BTC, min_notional=D("10"))
    assert (spec.tick_size, spec.step_size, spec.min_qty, spec.max_price) == (
        D("0.01"), D("0.00001"), D("0.00001"), D("1E+6"))


def test_exchange_info_falls_back_to_min_notional_and_to_our_filters() -> None:
    info = {"symbols": [{"symbol": "BTCUSDT", "baseAsset": "XBT", "filters": [
        {"filterType": "MIN_NOTIONAL", "minNotional": "7.5"},
        {"filterType": "PRICE_FILTER", "tickSize": "0.10"},
    ]}]}
    spec = specs_from_exchange_info(info, {"BTCUSDT": BTC})["BTCUSDT"]
    assert spec == replace(BTC, base="XBT", min_notional=D("7.5"), tick_size=D("0.1"))


def test_exchange_info_missing_a_configured_symbol_is_refused() -> None:
    with pytest.raises(ValueError, match="Binance does not list BTCUSDT"):
        specs_from_exchange_info({"symbols": []}, {"BTCUSDT": BTC})
