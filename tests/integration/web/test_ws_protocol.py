"""The WebSocket client protocol refuses malformed frames with an ERROR frame and stays open.

Issue 9: a subscribe with a list for `interval`, or 5,000 nested brackets, raised inside the
handler, closed the socket (1002) and logged a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.support.helpers import WsClient, open_ws, register
from web.app_keys import MARKET_DATA

BAD_FRAMES: list[tuple[str, str]] = [
    ("interval list", '{"type":"subscribe","symbols":[],"interval":[]}'),
    ("interval object", '{"type":"subscribe","symbols":["BTCUSDT"],"interval":{"1m":1}}'),
    ("interval number", '{"type":"subscribe","symbols":["BTCUSDT"],"interval":1}'),
    ("empty object", "{}"),
    ("type null", '{"type":null}'),
    ("type list", '{"type":["ping"]}'),
    ("type object", '{"type":{"ping":1}}'),
    ("type number", '{"type":5}'),
    ("symbols string", '{"type":"subscribe","symbols":"BTCUSDT"}'),
    ("symbols nested", '{"type":"subscribe","symbols":[["BTCUSDT"]]}'),
    ("symbols number", '{"type":"unsubscribe","symbols":[5]}'),
    ("cfdPnlMs string", '{"type":"subscribe","symbols":["BTCUSDT"],"cfdPnlMs":"5"}'),
    ("cfdPnlMs float", '{"type":"subscribe","symbols":["BTCUSDT"],"cfdPnlMs":5.5}'),
    ("cfdPnlMs bool", '{"type":"subscribe","symbols":["BTCUSDT"],"cfdPnlMs":true}'),
    ("cfdPnlMs huge", '{"type":"subscribe","symbols":["BTCUSDT"],"cfdPnlMs":1e400}'),
    ("NaN", '{"type":"subscribe","symbols":["BTCUSDT"],"cfdPnlMs":NaN}'),
    ("unknown field", '{"type":"subscribe","symbols":["BTCUSDT"],"intervall":"5m"}'),
    ("duplicate key", '{"type":"ping","type":"subscribe"}'),
    ("lone surrogate", '{"type":"subscribe","symbols":["\\ud800"]}'),
    ("deep nesting", "[" * 5000 + "]" * 5000),
    ("deep object nesting", '{"type":' * 1500 + '"ping"' + "}" * 1500),
    ("array", '["ping"]'),
    ("string", '"ping"'),
    ("number", "5"),
    ("null", "null"),
    ("not JSON", "ping"),
    ("empty", ""),
]


def _is_error(msg: dict[str, Any]) -> bool:
    return msg.get("type") == "ERROR"


async def _still_open(ws: WsClient) -> None:
    await ws.send({"type": "ping"})
    await ws.wait_for(lambda m: m.get("type") == "pong")
    ws.seen.clear()


async def test_bad_frames_get_an_error_frame_and_the_socket_stays_open(
        client: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token, _ = await register(client)
    ws = await open_ws(client, token)
    ws.seen.clear()
    caplog.clear()
    for name, frame in BAD_FRAMES:
        await ws.ws.send_str(frame)
        error = await ws.wait_for(_is_error)
        assert isinstance(error.get("detail"), str) and error["detail"], (name, error)
        await _still_open(ws)
    loud = [r for r in caplog.records if r.levelno > logging.DEBUG and r.name != "aiohttp.access"]
    assert not loud, [(r.name, r.levelname, r.getMessage()) for r in loud]


async def test_a_binary_frame_gets_an_error_frame(client: Any) -> None:
    token, _ = await register(client)
    ws = await open_ws(client, token)
    ws.seen.clear()
    await ws.ws.send_bytes(json.dumps({"type": "ping"}).encode())
    error = await ws.wait_for(_is_error)
    assert "text" in error["detail"]
    await _still_open(ws)


async def test_well_formed_frames_still_work(client: Any) -> None:
    token, _ = await register(client)
    ws = await open_ws(client, token)
    await ws.send({"type": "subscribe", "symbols": ["BTCUSDT", "ETHUSDT"], "interval": "5m", "cfdPnlMs": 250})
    subs = await ws.wait_for(lambda m: m["type"] == "SUBSCRIPTIONS")
    assert subs["symbols"] == ["BTCUSDT", "ETHUSDT"] and subs["interval"] == "5m"
    await ws.send({"type": "unsubscribe", "symbols": ["ETHUSDT"]})
    subs = await ws.wait_for(lambda m: m["type"] == "SUBSCRIPTIONS" and m["symbols"] == ["BTCUSDT"])
    assert subs["interval"] == "5m", "unsubscribe keeps the interval"
    await ws.wait_for(lambda m: m["type"] == "PRICE_UPDATE" and m["symbol"] == "BTCUSDT")
    await _still_open(ws)


async def test_a_subscribe_while_redis_cannot_answer_gets_an_error_frame_and_the_socket_stays_open(
        client: Any) -> None:
    """A burst of 5,000 sockets subscribing at once exhausted the Redis pool: the handler raised, and
    the socket was closed (1002) under a client that had done nothing wrong."""
    token, _ = await register(client)
    ws = await open_ws(client, token)
    market = client.server.app[MARKET_DATA]
    reachable = market.redis
    market.redis = aioredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)  # nothing listens there
    try:
        ws.seen.clear()
        await ws.send({"type": "subscribe", "symbols": ["BTCUSDT"]})
        error = await ws.wait_for(_is_error)
        assert "briefly unavailable" in error["detail"]
        await _still_open(ws)
    finally:
        await market.redis.aclose()
        market.redis = reachable
    await ws.send({"type": "subscribe", "symbols": ["ETHUSDT"]})
    subs = await ws.wait_for(lambda m: m["type"] == "SUBSCRIPTIONS")
    assert subs["symbols"] == ["BTCUSDT", "ETHUSDT"]  # the first subscription held


async def test_a_burst_of_subscribes_reads_the_prices_once_per_read_in_flight(client: Any) -> None:
    market = client.server.app[MARKET_DATA]
    before = await _hgetall_calls(market.redis)
    results = await asyncio.gather(*(market.latest_ticks() for _ in range(500)))
    # one read for all 500 (the node's own actors may read the hash meanwhile: hence "a few", not 500)
    assert await _hgetall_calls(market.redis) - before <= 3
    assert all(r == results[0] and r is not results[0] for r in results[1:])  # each caller gets its own copy


async def _hgetall_calls(redis: aioredis.Redis) -> int:
    return int((await redis.info("commandstats")).get("cmdstat_hgetall", {}).get("calls", 0))
