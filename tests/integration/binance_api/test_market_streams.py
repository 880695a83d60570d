"""Binance's market streams against a real Troupe (its actors, Redis, the aiohttp server's socket), read with a
raw aiohttp WebSocket client: every stream kind, the combined wrapper, the JSON methods and their error frames,
ping/pong, the message rate limit, and a local book kept by Binance's documented procedure that reproduces
`GET /api/v3/depth` exactly. Numbers are compared with Troupe's own `/api/v3` answers."""

from __future__ import annotations

import asyncio
import itertools
import json
from decimal import Decimal
from typing import Any

import aiohttp
import ccxt.pro as ccxtpro
from aiohttp import WSMsgType
from binance import AsyncClient, BinanceSocketManager

from app.domain.candles import Candle
from app.domain.tape import Print
from app.messages import CandleUpdate, TradePrints
from tests.support.binance_clients import stream_url, troupe_pro_urls
from tests.support.binance_streams import LocalBook, next_json, wait_until
from web.binance.streams import STREAM_HUB


async def _get(client: Any, path: str) -> Any:
    r = await client.get(path)
    assert r.status == 200, await r.text()
    return await r.json()


async def test_trades_and_agg_trades_are_the_tapes_prints(client: Any) -> None:
    ws = await client.ws_connect("/stream?streams=btcusdt@trade/btcusdt@aggTrade")
    seen: dict[str, list[dict[str, Any]]] = {"btcusdt@trade": [], "btcusdt@aggTrade": []}
    while min(len(v) for v in seen.values()) < 3:
        event = await next_json(ws)
        assert set(event) == {"stream", "data"}
        seen[event["stream"]].append(event["data"])
    trade, agg = seen["btcusdt@trade"][0], seen["btcusdt@aggTrade"][0]
    assert set(trade) == {"e", "E", "s", "t", "p", "q", "T", "m", "M"} and trade["e"] == "trade"
    assert set(agg) == {"e", "E", "s", "a", "p", "q", "f", "l", "T", "m", "M"} and agg["e"] == "aggTrade"
    assert trade["s"] == agg["s"] == "BTCUSDT"
    tape = {t["id"]: t for t in await _get(client, "/api/v3/trades?symbol=BTCUSDT&limit=1000")}
    for t in seen["btcusdt@trade"]:
        row = tape[t["t"]]
        assert (t["p"], t["q"], t["T"], t["m"]) == (row["price"], row["qty"], row["time"], row["isBuyerMaker"])
    aggs = {a["a"]: a for a in await _get(client, "/api/v3/aggTrades?symbol=BTCUSDT&limit=1000")}
    for a in seen["btcusdt@aggTrade"]:
        assert {k: v for k, v in a.items() if k not in ("e", "E", "s")} == aggs[a["a"]]
    ids = [t["t"] for t in seen["btcusdt@trade"]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    await ws.close()


async def test_kline_book_ticker_and_partial_depth_streams(client: Any) -> None:
    ws = await client.ws_connect("/stream?streams=ethusdt@kline_1m/ethusdt@bookTicker/ethusdt@depth5@100ms/"
                                 "ethusdt@depth10/ethusdt@depth20@100ms")
    got: dict[str, dict[str, Any]] = {}
    while len(got) < 5:
        event = await next_json(ws)
        if event["stream"] == "ethusdt@kline_1m" and event["data"]["k"]["x"]:
            continue  # the test started as a minute ended: its closed candle, then the open one
        got.setdefault(event["stream"], event["data"])
    k = got["ethusdt@kline_1m"]
    assert k["e"] == "kline" and k["s"] == "ETHUSDT" and k["k"]["i"] == "1m" and k["k"]["x"] is False
    assert k["k"]["T"] == k["k"]["t"] + 60_000 - 1
    rest = {row[0]: row for row in await _get(client, "/api/v3/klines?symbol=ETHUSDT&interval=1m&limit=5")}
    assert rest[k["k"]["t"]][1] == k["k"]["o"]  # the same candle: same open
    bt = got["ethusdt@bookTicker"]
    assert set(bt) == {"u", "s", "b", "B", "a", "A"} and Decimal(bt["b"]) < Decimal(bt["a"])
    d5, d10 = got["ethusdt@depth5@100ms"], got["ethusdt@depth10"]
    assert set(d5) == {"lastUpdateId", "bids", "asks"} and len(d5["bids"]) == len(d5["asks"]) == 5
    assert len(d10["bids"]) == 10 and len(got["ethusdt@depth20@100ms"]["asks"]) == 20
    # A partial book is the top of GET /api/v3/depth, and bookTicker its touch: a stream's event of the update
    # id a REST answer has shows that answer. Read the stream up to that id (its event comes after the
    # answer's write, or was already read); a stream that skipped it (two updates within one of its
    # periods) means reading the depth again.
    seen = {"ethusdt@depth5@100ms": d5, "ethusdt@bookTicker": bt}

    async def stream_at(name: str, key: str, book: dict[str, Any]) -> dict[str, Any] | None:
        while seen[name][key] < book["lastUpdateId"]:
            event = await next_json(ws)
            if event["stream"] in seen:
                seen[event["stream"]] = event["data"]
        return seen[name] if seen[name][key] == book["lastUpdateId"] else None

    async def same() -> bool:
        book = await _get(client, "/api/v3/depth?symbol=ETHUSDT&limit=5")
        event = await stream_at("ethusdt@depth5@100ms", "lastUpdateId", book)
        if event is None:
            return False
        assert event == book
        return True
    await wait_until(same)

    async def same_touch() -> bool:  # bookTicker is the book's touch at its update id
        book = await _get(client, "/api/v3/depth?symbol=ETHUSDT&limit=1")
        d = await stream_at("ethusdt@bookTicker", "u", book)
        if d is None:
            return False
        assert [[d["b"], d["B"]]] == book["bids"] and [[d["a"], d["A"]]] == book["asks"]
        return True
    await wait_until(same_touch)
    await ws.close()


async def test_tickers_match_ticker_24hr(client: Any) -> None:
    ws = await client.ws_connect("/ws/0")
    await ws.send_json({"method": "SUBSCRIBE", "params": ["solusdt@ticker", "solusdt@miniTicker",
                                                          "!miniTicker@arr", "!ticker@arr"], "id": 7})
    assert await next_json(ws) == {"result": None, "id": 7}
    got: dict[str, Any] = {}
    while len(got) < 4:
        event = await next_json(ws)
        key = f"arr:{event[0]['e']}" if isinstance(event, list) else event["e"]
        got.setdefault(key, event)
    t, mini, arr = got["24hrTicker"], got["24hrMiniTicker"], got["arr:24hrMiniTicker"]
    assert {x["s"] for x in got["arr:24hrTicker"]} == {"BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT"}
    assert set(t) == set("eEspPwxcQbBaAohlvqOCFLn") and t["s"] == "SOLUSDT"
    assert set(mini) == set("eEschlovq") and mini["o"] == t["o"]
    assert {m["s"] for m in arr} == {"BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT"}  # every symbol that changed
    assert all(m["e"] == "24hrMiniTicker" for m in arr)
    rest = await _get(client, "/api/v3/ticker/24hr?symbol=SOLUSDT")
    assert t["o"] == rest["openPrice"] and t["O"] == rest["openTime"]
    assert Decimal(t["c"]) > 0 and Decimal(t["P"]).as_tuple().exponent == -3
    await ws.close()


async def test_subscribe_unsubscribe_list_and_properties(client: Any) -> None:
    ws = await client.ws_connect("/ws/btcusdt@bookTicker")
    await ws.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade", "btcusdt@depth"], "id": 1})
    await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": "ab12"})
    answers = await _answers(ws, 2)
    assert answers == [{"result": None, "id": 1},
                       {"result": ["btcusdt@bookTicker", "btcusdt@aggTrade", "btcusdt@depth"], "id": "ab12"}]
    await asyncio.sleep(1.1)  # the rate limit: 5 messages a second
    await ws.send_json({"method": "UNSUBSCRIBE", "params": ["btcusdt@depth", "btcusdt@bookTicker"], "id": 312})
    await ws.send_json({"method": "GET_PROPERTY", "params": ["combined"], "id": 2})
    await ws.send_json({"method": "SET_PROPERTY", "params": ["combined", True], "id": 5})
    await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": None})
    assert await _answers(ws, 4) == [{"result": None, "id": 312}, {"result": False, "id": 2},
                                     {"result": None, "id": 5}, {"result": ["btcusdt@aggTrade"], "id": None}]
    while True:  # combined now: events come wrapped, and only the one stream is left
        event = await next_json(ws)
        if "stream" in event:
            assert event["stream"] == "btcusdt@aggTrade" and event["data"]["e"] == "aggTrade"
            break
    await ws.close()


async def _answers(ws: aiohttp.ClientWebSocketResponse, n: int) -> list[Any]:
    """The next `n` answers to requests (events in between are skipped)."""
    out: list[Any] = []
    while len(out) < n:
        frame = await next_json(ws)
        if isinstance(frame, dict) and ("result" in frame or "error" in frame):
            out.append(frame)
    return out


ERRORS: list[tuple[str, dict[str, Any], Any]] = [
    ('{"method": "SUBSCRIBE", "params": ["btcusdt@trade"',
     {"code": 3, "msg": "Invalid JSON: expected value at line 1 column 50"}, None),
    ('{"method": "SUBSCRIBEX", "params": [], "id": 1}',
     {"code": 2, "msg": "Invalid request: unknown variant `SUBSCRIBEX`, expected one of `SUBSCRIBE`, "
      "`UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY` at line 1 column 23"}, None),
    ('{"params": [], "id": 1}', {"code": 2, "msg": "Invalid request: missing field `method` at line 1 column 23"},
     None),
    ('{"method": "LIST_SUBSCRIPTIONS", "id": 1.5}',
     {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"}, None),
    ('{"method": "SUBSCRIBE", "params": ["btcusdt@nope"], "id": 4}',
     {"code": 2, "msg": "Invalid request: invalid stream"}, 4),
    ('{"method": "SUBSCRIBE", "params": ["btcusdt@kline_3m"], "id": 4}',
     {"code": 2, "msg": "Invalid request: invalid stream"}, 4),
    ('{"method": "SUBSCRIBE", "params": ["dogeusdt@trade"], "id": "x9"}',
     {"code": 2, "msg": "Invalid request: invalid stream"}, "x9"),
    ('{"method": "GET_PROPERTY", "params": ["colour"], "id": 9}', {"code": 0, "msg": "Unknown property"}, 9),
    ('{"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 9}',
     {"code": 1, "msg": "Invalid value type: expected Boolean"}, 9),
    ('{"method": "SET_PROPERTY", "params": [1, true], "id": 9}',
     {"code": 2, "msg": "Invalid request: property name must be a string"}, 9),
    ('{"method": "LIST_SUBSCRIPTIONS", "id": 1, "extra": 2}',
     {"code": 2, "msg": "Invalid request: too many parameters"}, 1),
    ("[1, 2]", {"code": 2, "msg": "Invalid request: expected a map at line 1 column 0"}, None),
]


async def test_malformed_requests_get_binances_error_frames_and_change_nothing(client: Any) -> None:
    ws = await client.ws_connect("/ws/bnbusdt@aggTrade")
    for i, (text, error, request_id) in enumerate(ERRORS):
        if i and i % 4 == 0:
            await asyncio.sleep(1.05)  # the rate limit's window: at most 5 messages a second
        await ws.send_str(text)
        assert await _answers(ws, 1) == [{"error": error, "id": request_id}], text
    await asyncio.sleep(1.05)
    await ws.send_bytes(b"\xff\xfe")
    (answer,) = await _answers(ws, 1)
    assert answer["error"]["code"] == 3
    await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 1})
    assert await _answers(ws, 1) == [{"result": ["bnbusdt@aggTrade"], "id": 1}]
    await ws.close()


UPGRADE = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
           "Sec-WebSocket-Key": "x3JJHMbDL1EzLkh9GBhXDw=="}


async def test_a_bad_stream_in_the_url_is_refused_before_the_upgrade(client: Any) -> None:
    for path in ("/ws/btcusdt@kline_7m", "/stream?streams=btcusdt@trade/xyz@trade", "/ws/BTCUSDT@trade"):
        r = await client.get(path, headers=UPGRADE)
        assert r.status == 400, path
        assert await r.json() == {"error": {"code": 2, "msg": "Invalid request: invalid stream"}, "id": None}
    r = await client.get("/ws/btcusdt@trade")  # not an upgrade: a clear 400, no traceback
    assert r.status == 400 and (await r.json())["error"]["code"] == 2


async def test_time_unit_microsecond(client: Any) -> None:
    ws = await client.ws_connect("/ws/btcusdt@trade?timeUnit=MICROSECOND")
    trade = await next_json(ws)
    tape = {t["id"]: t for t in await _get(client, "/api/v3/trades?symbol=BTCUSDT&limit=1000")}
    assert trade["T"] == tape[trade["t"]]["time"] * 1000 and trade["E"] > 10**15
    await ws.close()
    r = await client.get("/ws/btcusdt@trade?timeUnit=SECOND", headers=UPGRADE)
    assert r.status == 400 and (await r.json())["error"]["code"] == 2


async def test_the_browser_socket_path_is_untouched(client: Any) -> None:
    r = await client.get("/ws")
    assert r.status in (400, 401, 403)
    assert "error" not in (await r.json())  # Troupe's own problem document, not a stream's error frame


async def test_at_most_the_stream_limit_per_connection(client: Any) -> None:
    client.server.app[STREAM_HUB].stream_limit = 3  # 1024 in production: more than Troupe has streams
    r = await client.get("/stream?streams=btcusdt@trade/btcusdt@ticker/ethusdt@trade/ethusdt@ticker", headers=UPGRADE)
    assert r.status == 400 and "too many streams" in (await r.json())["error"]["msg"]
    ws = await client.ws_connect("/stream?streams=btcusdt@trade/btcusdt@ticker")
    await ws.send_json({"method": "SUBSCRIBE", "params": ["ethusdt@trade", "ethusdt@ticker"], "id": 1})
    await ws.send_json({"method": "SUBSCRIBE", "params": ["ethusdt@trade"], "id": 2})
    assert await _answers(ws, 2) == [
        {"error": {"code": 2, "msg": "Invalid request: too many streams; at most 3 per connection"}, "id": 1},
        {"result": None, "id": 2}]
    await ws.close()


async def test_more_than_five_messages_a_second_closes_the_connection(client: Any) -> None:
    ws = await client.ws_connect("/ws/0")
    for i in range(7):
        await ws.send_json({"method": "LIST_SUBSCRIPTIONS", "id": i})
    while (msg := await ws.receive(timeout=5)).type == WSMsgType.TEXT:
        pass
    assert msg.type == WSMsgType.CLOSE and ws.close_code == 1008


async def test_ping_pong(client: Any) -> None:
    hub = client.server.app[STREAM_HUB]
    hub.ping_s, hub.pong_timeout_s = 0.2, 0.7
    ws = await client.ws_connect("/ws/0", autoping=False)
    await ws.ping(b"hello")
    msg = await ws.receive(timeout=5)
    while msg.type == WSMsgType.PING:  # the server's own ping may come first
        msg = await ws.receive(timeout=5)
    assert msg.type == WSMsgType.PONG and msg.data == b"hello"
    # A client that answers pings stays; unsolicited pongs do not count.
    for _ in range(5):
        msg = await ws.receive(timeout=5)
        assert msg.type == WSMsgType.PING and msg.data
        await ws.pong(msg.data)
    silent = await client.ws_connect("/ws/0", autoping=False)
    while (msg := await silent.receive(timeout=5)).type in (WSMsgType.PING, WSMsgType.PONG):
        await silent.pong(b"")  # empty, unsolicited: not an answer to the ping
    assert msg.type == WSMsgType.CLOSE and silent.close_code == 1008
    assert not ws.closed
    await ws.close()


async def test_a_local_book_kept_from_the_diff_stream_is_the_servers_book(client: Any) -> None:
    ws = await client.ws_connect("/ws/btcusdt@depth@100ms")
    book = LocalBook()
    await book.sync(ws, lambda: _get(client, "/api/v3/depth?symbol=BTCUSDT&limit=5000"))
    matched: set[int] = set()
    while len(matched) < 3:  # the same book at three different update ids
        book.apply(await next_json(ws))
        snapshot = await _get(client, "/api/v3/depth?symbol=BTCUSDT&limit=100")  # all 25 levels a side
        while book.update_id < snapshot["lastUpdateId"]:
            book.apply(await next_json(ws))
        if book.update_id == snapshot["lastUpdateId"]:
            assert book.as_depth() == snapshot
            matched.add(book.update_id)
    await ws.close()


async def test_the_one_second_diff_stream_is_contiguous_too(client: Any) -> None:
    ws = await client.ws_connect("/ws/ethusdt@depth")
    book = LocalBook()
    await book.sync(ws, lambda: _get(client, "/api/v3/depth?symbol=ETHUSDT&limit=100"))
    times = []
    for _ in range(3):
        event = await next_json(ws)
        book.apply(event)  # U = the previous u + 1
        times.append(event["E"])
    assert all(b - a >= 500 for a, b in itertools.pairwise(times))  # about one a second
    await ws.close()


def _dec(levels: list[list[Any]]) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(str(p)), Decimal(str(q))) for p, q, *_ in levels]


async def test_ccxt_pro_watches_tickers_books_trades_and_candles(client: Any) -> None:
    url = str(client.make_url("")).rstrip("/")
    ex = ccxtpro.binance({"enableRateLimit": False})
    ex.urls["api"] = troupe_pro_urls(url, ex.urls["api"]["ws"])
    try:
        mini = await ex.watch_ticker("BTC/USDT")  # ccxt's default: <symbol>@miniTicker
        full = await ex.watch_ticker("ETH/USDT", {"name": "ticker"})
        assert (mini["info"]["e"], full["info"]["e"]) == ("24hrMiniTicker", "24hrTicker")
        for ticker, symbol in ((mini, "BTCUSDT"), (full, "ETHUSDT")):
            rest = await _get(client, f"/api/v3/ticker/24hr?symbol={symbol}")
            assert Decimal(str(ticker["open"])) == Decimal(rest["openPrice"]) and ticker["last"] > 0
        assert full["bid"] < full["ask"]

        async def same_book() -> bool:
            book = await ex.watch_order_book("BTC/USDT")
            snapshot = await _get(client, "/api/v3/depth?symbol=BTCUSDT&limit=100")
            if book["nonce"] != snapshot["lastUpdateId"]:
                return False
            assert _dec(book["bids"]) == _dec(snapshot["bids"]) and _dec(book["asks"]) == _dec(snapshot["asks"])
            return True
        await wait_until(same_book)

        trades = await ex.watch_trades("BTC/USDT")
        tape = {str(t["id"]): t for t in await _get(client, "/api/v3/trades?symbol=BTCUSDT&limit=1000")}
        assert trades
        for t in trades:
            row = tape[t["id"]]
            assert (Decimal(str(t["price"])), Decimal(str(t["amount"])), t["timestamp"]) == \
                (Decimal(row["price"]), Decimal(row["qty"]), row["time"])

        candles = await ex.watch_ohlcv("BTC/USDT", "1m")
        rest_klines = {k[0]: k for k in await _get(client, "/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=5")}
        t, o = candles[-1][0], candles[-1][1]
        assert Decimal(str(o)) == Decimal(rest_klines[t][1])
    finally:
        await ex.close()


async def test_python_binance_socket_manager_kline_and_depth_sockets(client: Any) -> None:
    url = str(client.make_url("")).rstrip("/")
    api = AsyncClient()
    api.API_URL = f"{url}/api"
    manager = BinanceSocketManager(api)
    manager.STREAM_URL = stream_url(url)
    try:
        async with manager.kline_socket("ETHUSDT", interval=AsyncClient.KLINE_INTERVAL_1MINUTE) as socket:
            event = await asyncio.wait_for(socket.recv(), 10)
        assert event["e"] == "kline" and event["s"] == "ETHUSDT" and event["k"]["i"] == "1m"
        rest = {k[0]: k for k in await api.get_klines(symbol="ETHUSDT", interval="1m", limit=5)}
        assert rest[event["k"]["t"]][1] == event["k"]["o"]

        async with manager.depth_socket("ETHUSDT", depth=BinanceSocketManager.WEBSOCKET_DEPTH_5) as socket:
            partial = await asyncio.wait_for(socket.recv(), 10)
        assert len(partial["bids"]) == 5 and partial["lastUpdateId"] > 0

        async with manager.depth_socket("ETHUSDT", interval=100) as socket:
            diffs = [await asyncio.wait_for(socket.recv(), 10) for _ in range(3)]
        assert all(d["e"] == "depthUpdate" for d in diffs)
        assert [d["U"] for d in diffs[1:]] == [d["u"] + 1 for d in diffs[:-1]]
        snapshot = await api.get_order_book(symbol="ETHUSDT", limit=100)
        assert snapshot["lastUpdateId"] >= diffs[0]["U"] - 1
    finally:
        await api.close_connection()


async def test_a_connection_that_does_not_read_is_closed_and_never_delays_the_others(client: Any) -> None:
    hub = client.server.app[STREAM_HUB]
    slow = await client.ws_connect("/ws/solusdt@trade")
    fast = await client.ws_connect("/ws/solusdt@aggTrade")
    await wait_until(lambda: _subscribed(hub, 2))
    # One batch with more prints than a send queue holds, as a burst from the Broadcaster would bring.
    prints = tuple(Print(10**9 + i, Decimal("150"), Decimal("0.1"), False, 1) for i in range(hub.max_queue + 10))
    hub.dispatch([TradePrints(msg_id="burst", symbol="SOLUSDT", prints=prints)])
    await wait_until(_closed_or_reading(slow))
    assert slow.close_code == 1013
    assert (await next_json(fast))["e"] == "aggTrade"  # the other one still gets its events
    await fast.close()


async def _subscribed(hub: Any, n: int) -> bool:
    await asyncio.sleep(0)
    return len(hub.connections) >= n


def _closed_or_reading(ws: aiohttp.ClientWebSocketResponse) -> Any:
    async def check() -> bool:
        msg = await ws.receive(timeout=10)
        return msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
    return check


async def test_shutdown_says_server_shutdown_then_closes_cleanly(make_client: Any) -> None:
    client = await make_client()
    raw = await client.ws_connect("/ws/0")
    combined = await client.ws_connect("/stream?streams=btcusdt@trade")
    await wait_until(lambda: _subscribed(client.server.app[STREAM_HUB], 2))
    stopping = asyncio.create_task(client.server.close())  # the app's shutdown

    async def shutdown_event(ws: aiohttp.ClientWebSocketResponse) -> Any:
        while True:
            msg = await ws.receive(timeout=10)
            if msg.type != WSMsgType.TEXT:
                return msg
            data = json.loads(msg.data)
            if data.get("e") == "serverShutdown" or data.get("stream") == "!serverShutdown":
                return data
    assert (await shutdown_event(raw))["e"] == "serverShutdown"
    event = await shutdown_event(combined)
    assert event["stream"] == "!serverShutdown" and event["data"]["e"] == "serverShutdown"
    for ws in (raw, combined):
        assert (await ws.receive(timeout=10)).type in (WSMsgType.CLOSE, WSMsgType.CLOSED)
        assert ws.close_code == 1001
    await stopping


async def test_a_candle_that_closed_goes_out_at_once_as_closed(client: Any) -> None:
    hub = client.server.app[STREAM_HUB]
    ws = await client.ws_connect("/ws/bnbusdt@kline_1h")
    await wait_until(lambda: _subscribed(hub, 1))
    later = 4_102_444_800_000  # 2100: past anything the market's own candles say
    first = Candle(later, Decimal("600"), Decimal("610"), Decimal("590"), Decimal("605"), Decimal("3"))
    second = Candle(later + 3_600_000, Decimal("605"), Decimal("605"), Decimal("605"), Decimal("605"), Decimal("1"))
    hub.dispatch([CandleUpdate(msg_id="c1", symbol="BNBUSDT", candles={"1h": first.to_json()}),
                  CandleUpdate(msg_id="c2", symbol="BNBUSDT", candles={"1h": second.to_json()})])
    while (k := (await next_json(ws))["k"])["t"] != later:
        pass
    assert k["x"] is True and (k["o"], k["h"], k["l"], k["c"], k["v"]) == ("600", "610", "590", "605", "3")
    assert k["T"] == later + 3_600_000 - 1
    while (k := (await next_json(ws))["k"])["t"] != later + 3_600_000:  # the open one, within two seconds
        pass
    assert k["x"] is False
    await ws.close()
