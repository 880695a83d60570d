"""The streams' pure parts: the name grammar, subscriptions and their methods, the rate window, diff depth."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from app.binance_api.streams import (
    STREAM_LIMIT,
    DiffBook,
    RateWindow,
    SlowDiffs,
    Stream,
    StreamError,
    Subscriptions,
    handle,
    parse_stream,
    time_unit,
)

SYMBOLS = ("BTCUSDT", "ETHUSDT")
D = Decimal


@pytest.mark.parametrize(("name", "stream"), [
    ("btcusdt@trade", Stream("btcusdt@trade", "trade", "BTCUSDT")),
    ("ethusdt@aggTrade", Stream("ethusdt@aggTrade", "aggTrade", "ETHUSDT")),
    ("btcusdt@kline_1m", Stream("btcusdt@kline_1m", "kline", "BTCUSDT", interval="1m")),
    ("btcusdt@kline_1d", Stream("btcusdt@kline_1d", "kline", "BTCUSDT", interval="1d")),
    ("btcusdt@bookTicker", Stream("btcusdt@bookTicker", "bookTicker", "BTCUSDT")),
    ("btcusdt@ticker", Stream("btcusdt@ticker", "ticker", "BTCUSDT")),
    ("btcusdt@miniTicker", Stream("btcusdt@miniTicker", "miniTicker", "BTCUSDT")),
    ("btcusdt@depth5", Stream("btcusdt@depth5", "depth", "BTCUSDT", levels=5)),
    ("btcusdt@depth20@100ms", Stream("btcusdt@depth20@100ms", "depth", "BTCUSDT", levels=20, fast=True)),
    ("btcusdt@depth", Stream("btcusdt@depth", "diff", "BTCUSDT")),
    ("btcusdt@depth@100ms", Stream("btcusdt@depth@100ms", "diff", "BTCUSDT", fast=True)),
    ("!ticker@arr", Stream("!ticker@arr", "!ticker@arr")),
    ("!miniTicker@arr", Stream("!miniTicker@arr", "!miniTicker@arr")),
])
def test_stream_names(name: str, stream: Stream) -> None:
    assert parse_stream(name, SYMBOLS) == stream


@pytest.mark.parametrize("name", ["BTCUSDT@trade", "btcusdt@kline_3m", "btcusdt@kline_1s", "btcusdt@kline_7x",
                                  "btcusdt@depth7", "btcusdt@depth@1000ms", "dogeusdt@trade", "btcusdt",
                                  "btcusdt@trade@100ms", "", "btcusdt@avgPrice", 5, None])
def test_invalid_stream_names(name: object) -> None:
    assert parse_stream(name, SYMBOLS) is None


def _ask(subs: Subscriptions, request: object) -> dict[str, object]:
    text = request if isinstance(request, str) else json.dumps(request)
    answer, _ = handle(text, subs, SYMBOLS)
    return answer


def test_subscribe_is_all_or_nothing_and_lists_in_order() -> None:
    subs = Subscriptions()
    assert _ask(subs, {"method": "SUBSCRIBE", "params": ["btcusdt@trade", "ethusdt@depth"], "id": 1}) == \
        {"result": None, "id": 1}
    refused = _ask(subs, {"method": "SUBSCRIBE", "params": ["ethusdt@trade", "btcusdt@nope"], "id": 2})
    assert refused == {"error": {"code": 2, "msg": "Invalid request: invalid stream"}, "id": 2}
    assert _ask(subs, {"method": "LIST_SUBSCRIPTIONS", "id": 3}) == {"result": ["btcusdt@trade", "ethusdt@depth"],
                                                                      "id": 3}
    answer, change = handle(json.dumps({"method": "UNSUBSCRIBE", "params": ["btcusdt@trade", "x"], "id": 4}),
                            subs, SYMBOLS)
    assert answer == {"result": None, "id": 4} and [s.name for s in change.removed] == ["btcusdt@trade"]


def test_the_stream_limit() -> None:
    assert STREAM_LIMIT == 1024
    subs = Subscriptions(limit=3)
    assert _ask(subs, {"method": "SUBSCRIBE", "params": ["btcusdt@trade", "btcusdt@trade", "ethusdt@trade"],
                       "id": 1}) == {"result": None, "id": 1}
    assert _ask(subs, {"method": "SUBSCRIBE", "params": ["btcusdt@ticker", "ethusdt@ticker"], "id": 2})["error"] == \
        {"code": 2, "msg": "Invalid request: too many streams; at most 3 per connection"}
    assert subs.names() == ["btcusdt@trade", "ethusdt@trade"]


def test_properties() -> None:
    subs = Subscriptions(combined=True)
    assert _ask(subs, {"method": "GET_PROPERTY", "params": ["combined"], "id": 2}) == {"result": True, "id": 2}
    assert _ask(subs, {"method": "SET_PROPERTY", "params": ["combined", False], "id": 5}) == {"result": None, "id": 5}
    assert subs.combined is False
    assert _ask(subs, {"method": "SET_PROPERTY", "params": ["combined", 1], "id": 5})["error"]["code"] == 1
    assert _ask(subs, {"method": "GET_PROPERTY", "params": ["other"], "id": 6}) == \
        {"error": {"code": 0, "msg": "Unknown property"}, "id": 6}


@pytest.mark.parametrize(("request_id", "ok"), [
    (0, True), (2**63 - 1, True), (-2**63, True), (2**63, False), ("abc123", True), ("a" * 36, True),
    ("a" * 37, False), ("a-b", False), ("", False), (None, True), (True, False), (1.0, False), ([], False)])
def test_request_ids(request_id: object, ok: bool) -> None:
    answer = _ask(Subscriptions(), {"method": "LIST_SUBSCRIPTIONS", "id": request_id})
    if ok:
        assert answer == {"result": [], "id": request_id}
    else:
        assert answer == {"error": {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"},
                          "id": None}


@pytest.mark.parametrize("text", ["", "{", "nul", '{"method": "SUBSCRIBE"} x', "[" * 100_000, '"\ud800"'])
def test_malformed_json_is_code_3_or_2_never_an_exception(text: str) -> None:
    answer = _ask(Subscriptions(), text)
    assert answer["error"]["code"] in (2, 3) and answer["id"] is None  # type: ignore[index]


def test_json_errors_say_where() -> None:
    assert _ask(Subscriptions(), '{"id": 1,\n "x": }')["error"] == \
        {"code": 3, "msg": "Invalid JSON: expected value at line 2 column 7"}


def test_rate_window() -> None:
    window = RateWindow(limit=5)
    assert all(window.allow(t) for t in (0, 100, 200, 300, 400))
    assert not window.allow(500)
    assert window.allow(1_201)  # the first ones are more than a second old by now


def test_diff_book_sets_changes_and_removes_what_left() -> None:
    book = DiffBook()
    assert book.apply(1, 1, [(D("10"), D("1")), (D("9"), D("2"))], [(D("11"), D("1"))]) is None  # nothing to diff
    diff = book.apply(2, 4, [(D("10"), D("0.5")), (D("9"), D("2"))], [(D("11.5"), D("3"))])
    assert diff is not None and (diff.first_id, diff.last_id) == (2, 4)
    assert diff.bids == {D("10"): D("0.5")} and diff.asks == {D("11.5"): D("3"), D("11"): D("0")}
    assert book.apply(5, 4, [], []) is None  # no change published
    assert book.apply(2, 4, [], []) is None and book.bids == {D("10"): D("0.5"), D("9"): D("2")}  # seen: ignored


def test_slow_diffs_cover_the_second_and_flush_on_a_gap() -> None:
    book, slow = DiffBook(), SlowDiffs()
    book.apply(1, 1, [(D("10"), D("1"))], [])
    first = book.apply(2, 2, [(D("10"), D("2"))], [])
    second = book.apply(3, 5, [(D("10"), D("3")), (D("9"), D("1"))], [])
    assert first is not None and second is not None
    assert slow.add(first) is None and slow.add(second) is None
    merged = slow.flush()
    assert merged is not None and (merged.first_id, merged.last_id) == (2, 5)
    assert merged.bids == {D("10"): D("3"), D("9"): D("1")}
    assert slow.flush() is None
    later = book.apply(6, 8, [(D("10"), D("4"))], [])
    after_gap = book.apply(12, 12, [(D("10"), D("5"))], [])  # ids 9-11 never arrived
    assert later is not None and after_gap is not None
    assert slow.add(later) is None
    due = slow.add(after_gap)  # what was gathered goes out first, so the client sees the gap
    assert due is not None and (due.first_id, due.last_id) == (6, 8)
    pending = slow.flush()
    assert pending is not None and (pending.first_id, pending.last_id) == (12, 12)


def test_time_unit() -> None:
    assert time_unit(None) is False and time_unit("MILLISECOND") is False
    assert time_unit("MICROSECOND") is True and time_unit("microsecond") is True
    with pytest.raises(StreamError) as refused:
        time_unit("NANOSECOND")
    assert refused.value.code == 2
