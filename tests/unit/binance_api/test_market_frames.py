"""The market streams' payloads, field by field as Binance's stream documentation lists them, from typed messages."""

from __future__ import annotations

import json
from decimal import Decimal

from app import binance_render as br
from app.binance_api import market_frames as mf
from app.binance_api.streams import Diff
from app.domain.candles import Candle
from app.domain.tape import Print
from app.messages import PriceTick

D = Decimal
TICK = PriceTick(msg_id="t", symbol="BTCUSDT", price=D("100.5"), bid=D("100.4"), ask=D("100.6"), ts=1_000, seq=1,
                 bids=((D("100.4"), D("1.50")), (D("100.3"), D("2"))), asks=((D("100.6"), D("0.25")),),
                 book_first=7, book_id=9)
PRINT = Print(42, D("100.50"), D("0.0100"), True, 999)


def test_trade_and_agg_trade() -> None:
    assert mf.trade("BTCUSDT", PRINT, 1_234) == {"e": "trade", "E": 1_234, "s": "BTCUSDT", "t": 42, "p": "100.5",
                                                 "q": "0.01", "T": 999, "m": True, "M": True}
    assert mf.agg_trade("BTCUSDT", PRINT, 1_234) == {"e": "aggTrade", "E": 1_234, "s": "BTCUSDT", "a": 42,
                                                     "p": "100.5", "q": "0.01", "f": 42, "l": 42, "T": 999, "m": True,
                                                     "M": True}


def test_kline_is_the_klines_row() -> None:
    c = Candle(60_000, D("1"), D("3"), D("0.5"), D("2"), D("10"))
    k = mf.kline("BTCUSDT", "1m", c, False, 5)["k"]
    row = br.kline_json(c, 60_000)
    assert (k["t"], k["o"], k["h"], k["l"], k["c"], k["v"], k["T"]) == tuple(row[:7])
    assert set(k) == set("tTsifLochlvnxqVQB") and k["x"] is False and k["i"] == "1m"


def test_book_ticker_and_partial_depth_are_the_published_book() -> None:
    assert mf.book_ticker(TICK) == {"u": 9, "s": "BTCUSDT", "b": "100.4", "B": "1.5", "a": "100.6", "A": "0.25"}
    assert mf.partial_depth(TICK, 5) == {"lastUpdateId": 9, "bids": [["100.4", "1.5"], ["100.3", "2"]],
                                         "asks": [["100.6", "0.25"]]}
    bare = PriceTick(msg_id="t", symbol="BTCUSDT", price=D("1"), bid=D("0.9"), ask=D("1.1"), ts=1, seq=1)
    assert mf.book_ticker(bare)["B"] == "0"


def test_depth_update_lists_best_first() -> None:
    diff = Diff(3, 5, {D("1"): D("2"), D("3"): D("0")}, {D("5"): D("1"), D("4"): D("0")})
    assert mf.depth_update("BTCUSDT", diff, 8) == {"e": "depthUpdate", "E": 8, "s": "BTCUSDT", "U": 3, "u": 5,
                                                   "b": [["3", "0"], ["1", "2"]], "a": [["4", "0"], ["5", "1"]]}


def test_tickers_from_the_24h_ticker() -> None:
    hours = [Candle(0, D("90"), D("110"), D("80"), D("100"), D("2"))]
    stats = br.ticker_24h_json("BTCUSDT", TICK.price, TICK.bid, TICK.ask, hours, 5_000)
    t = mf.ticker(stats, TICK, 5_000)
    assert set(t) == set("eEspPwxcQbBaAohlvqOCFLn")
    assert (t["p"], t["P"], t["o"], t["c"], t["h"], t["l"], t["v"], t["B"]) == \
        (stats["priceChange"], stats["priceChangePercent"], "90", "100.5", "110", "80", "2", "1.5")
    assert mf.mini_ticker(stats, 5_000) == {"e": "24hrMiniTicker", "E": 5_000, "s": "BTCUSDT", "c": "100.5",
                                            "o": "90", "h": "110", "l": "80", "v": "2", "q": stats["quoteVolume"]}


def test_combined_wraps_the_raw_text() -> None:
    raw = mf.dumps({"a": 1})
    assert json.loads(mf.combined("btcusdt@trade", raw)) == {"stream": "btcusdt@trade", "data": {"a": 1}}


def test_microseconds() -> None:
    c = Candle(60_000, D("1"), D("3"), D("0.5"), D("2"), D("10"))
    k = mf.in_microseconds(mf.kline("BTCUSDT", "1m", c, False, 5))
    assert (k["E"], k["k"]["t"], k["k"]["T"]) == (5_000, 60_000_000, 119_999_999)
    t = mf.in_microseconds(mf.trade("BTCUSDT", PRINT, 1_234))
    assert (t["E"], t["T"], t["t"]) == (1_234_000, 999_000, 42)  # the trade id stays
    assert mf.in_microseconds([mf.server_shutdown(2)]) == [{"e": "serverShutdown", "E": 2_000}]
    assert mf.in_microseconds(mf.book_ticker(TICK)) == mf.book_ticker(TICK)
