"""Binance combined-stream frames and REST klines: parsed exactly, garbage refused, late trades dropped."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from app.domain.candles import Candle
from app.exchange.market_stream import (
    Book,
    Kline,
    PartialDepth,
    Shutdown,
    Trade,
    TradeFilter,
    candles_from_klines,
    parse_frame,
    stream_path,
)

D = Decimal


def frame(data: Any, stream: str = "btcusdt@trade") -> str:
    return json.dumps({"stream": stream, "data": data})


def test_stream_path_names_four_streams_per_symbol() -> None:
    assert stream_path(["BTCUSDT", "ETHUSDT"]) == (
        "/stream?streams=btcusdt@trade/btcusdt@bookTicker/btcusdt@depth20@100ms/btcusdt@kline_1m"
        "/ethusdt@trade/ethusdt@bookTicker/ethusdt@depth20@100ms/ethusdt@kline_1m")


def test_partial_depth_takes_its_symbol_from_the_stream_name() -> None:
    data = {"lastUpdateId": 160, "bids": [["0.0024", "10"], ["0.0023", "0"]], "asks": [["0.0026", "100"]]}
    assert parse_frame(frame(data, "bnbbtc@depth20@100ms")) == PartialDepth(
        "BNBBTC", 160, ((Decimal("0.0024"), Decimal("10")), (Decimal("0.0023"), Decimal("0"))),
        ((Decimal("0.0026"), Decimal("100")),))


@pytest.mark.parametrize("data", [
    {"lastUpdateId": 1, "bids": [["2", "1"]], "asks": [["1", "1"]]},  # crossed
    {"lastUpdateId": 1, "bids": [["1", "1"], ["2", "1"]], "asks": []},  # bids not best first
    {"lastUpdateId": 1, "bids": [["-1", "1"]], "asks": []},
    {"lastUpdateId": 1, "bids": [["1", "-1"]], "asks": []},
    {"lastUpdateId": 1, "bids": [["1"]], "asks": []},
    {"lastUpdateId": 1, "bids": "many", "asks": []},
    {"bids": [], "asks": []},
])
def test_garbage_depth_is_refused(data: Any) -> None:
    with pytest.raises(ValueError):
        parse_frame(frame(data, "btcusdt@depth20@100ms"))


KLINE = {"t": 1_700_000_040_000, "o": "67250.01000000", "h": "67260.5", "l": "67249.99", "c": "67255.12345678",
         "v": "12.00000001", "x": True}


@pytest.mark.parametrize(("data", "event"), [
    ({"e": "trade", "s": "BTCUSDT", "p": "67250.01000000", "q": "0.00012000", "T": 1_700_000_000_123, "t": 42},
     Trade("BTCUSDT", D("67250.01"), D("0.00012"), 1_700_000_000_123, 42)),
    ({"e": "trade", "s": "DOGEUSDT", "p": "0.14210", "q": "0", "T": 5, "t": 6},
     Trade("DOGEUSDT", D("0.1421"), D(0), 5, 6)),
    ({"u": 400900217, "s": "ETHUSDT", "b": "3480.00", "B": "31.2", "a": "3480.02", "A": "40.66"},
     Book("ETHUSDT", D("3480"), D("3480.02"))),
    ({"u": 1, "s": "ETHUSDT", "b": "3480.01", "a": "3480.01"}, Book("ETHUSDT", D("3480.01"), D("3480.01"))),
    ({"e": "kline", "s": "BTCUSDT", "k": KLINE},
     Kline("BTCUSDT", Candle(1_700_000_040_000, D("67250.01"), D("67260.5"), D("67249.99"), D("67255.12345678"),
                             D("12.00000001")), True)),
    ({"e": "kline", "s": "BTCUSDT", "k": {**KLINE, "x": False}},
     Kline("BTCUSDT", Candle(1_700_000_040_000, D("67250.01"), D("67260.5"), D("67249.99"), D("67255.12345678"),
                             D("12.00000001")), False)),
    ({"e": "serverShutdown", "E": 1}, Shutdown()),
    ({"e": "24hrTicker", "s": "BTCUSDT"}, None),
    ({"s": "BTCUSDT", "b": "1"}, None),
])
def test_parse_frame_reads_each_event_exactly(data: dict[str, Any], event: object) -> None:
    parsed = parse_frame(frame(data))
    assert parsed == event
    if isinstance(parsed, Trade):
        assert isinstance(event, Trade)
        assert (str(parsed.price), str(parsed.qty)) == (str(D(data["p"])), str(D(data["q"])))


@pytest.mark.parametrize(("text", "why"), [
    ("not json", "not a combined-stream frame"),
    ("[]", "not a combined-stream frame"),
    (json.dumps({"stream": "x"}), "not a combined-stream frame"),
    (frame([1, 2]), "frame data is not an object"),
    (frame({"e": "trade", "s": "BTCUSDT", "p": "NaN", "q": "1", "T": 1, "t": 1}), "not a positive finite price"),
    (frame({"e": "trade", "s": "BTCUSDT", "p": "Infinity", "q": "1", "T": 1, "t": 1}), "not a positive finite"),
    (frame({"e": "trade", "s": "BTCUSDT", "p": "0", "q": "1", "T": 1, "t": 1}), "not a positive finite price"),
    (frame({"e": "trade", "s": "BTCUSDT", "p": "-5", "q": "1", "T": 1, "t": 1}), "not a positive finite price"),
    (frame({"e": "trade", "s": "BTCUSDT", "p": "abc", "q": "1", "T": 1, "t": 1}), "not a decimal"),
    (frame({"e": "trade", "s": "BTCUSDT", "p": "1", "q": "-0.1", "T": 1, "t": 1}), "not a quantity"),
    (frame({"e": "trade", "s": "BTCUSDT", "p": "1", "q": "NaN", "T": 1, "t": 1}), "not a quantity"),
    (frame({"e": "trade", "s": "BTCUSDT", "p": "1", "q": "1", "T": 1}), "malformed trade event"),
    (frame({"e": "kline", "s": "BTCUSDT"}), "malformed kline event"),
    (frame({"e": "kline", "s": "BTCUSDT", "k": {**KLINE, "h": "0"}}), "not a positive finite price"),
    (frame({"u": 1, "s": "ETHUSDT", "b": "3480.03", "a": "3480.02"}), "crossed book ticker"),
    (frame({"u": 1, "b": "1", "a": "2"}), "malformed bookTicker event"),
])
def test_parse_frame_refuses_garbage(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_frame(text)


def trade(ts: int, trade_id: int, symbol: str = "BTCUSDT") -> Trade:
    return Trade(symbol, D("1"), D("1"), ts, trade_id)


def test_trade_filter_keeps_only_newer_trades_per_symbol() -> None:
    keep = TradeFilter()
    verdicts = [keep.accept(t) for t in (
        trade(100, 10),                # first: kept
        trade(100, 11),                # same time, newer id: kept
        trade(100, 11),                # repeated: dropped
        trade(99, 12),                 # older time: dropped
        trade(101, 9),                 # older id: dropped
        trade(50, 1, "ETHUSDT"),       # another symbol has its own order: kept
        trade(102, 13),                # newer: kept
    )]
    assert verdicts == [True, True, False, False, False, True, True]
    assert keep.last == {"BTCUSDT": (102, 13), "ETHUSDT": (50, 1)}


def test_candles_from_klines_skips_malformed_rows() -> None:
    rows: list[list[Any]] = [
        [1_700_000_000_000, "67250.00", "67300.10", "67200.00", "67299.99", "3.12345678", 1_700_000_059_999],
        [1_700_000_060_000, "0", "1", "1", "1", "1"],       # zero open
        [1_700_000_120_000, "1", "1", "1"],                  # short row
        ["soon", "1", "1", "1", "1", "1"],                   # bad time
        [1_700_000_180_000, "2", "3", "1", "2.5", "-1"],     # negative volume
        [1_700_000_240_000, "2", "3", "1", "2.5", "0"],
    ]
    assert candles_from_klines(rows) == [
        Candle(1_700_000_000_000, D("67250"), D("67300.1"), D("67200"), D("67299.99"), D("3.12345678")),
        Candle(1_700_000_240_000, D("2"), D("3"), D("1"), D("2.5"), D("0")),
    ]
