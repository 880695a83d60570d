"""PRICE_FEED=binance against the fake's combined stream: history, live ticks, garbage, drops, staleness."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.apps import make_settings, running_app
from tests.support.fakes.binance import FakeBinance
from tests.support.helpers import WsClient, auth, open_ws, register


async def _app(aiohttp_client: Any, tmp_path: Path, sqlite_url: str, redis_url: str, fake: FakeBinance,
               stale_ms: int) -> AsyncIterator[Any]:
    settings = make_settings(tmp_path, sqlite_url, redis_url, price_feed="binance", binance_api_url=fake.url,
                             binance_stream_url=fake.stream_url, binance_stale_ms=stale_ms, binance_timeout_s=2)
    async for c in running_app(aiohttp_client, settings):
        yield c


@pytest.fixture
async def client(aiohttp_client: Any, tmp_path: Path, sqlite_url: str, redis_url: str,
                 fake: FakeBinance) -> AsyncIterator[Any]:
    async for c in _app(aiohttp_client, tmp_path, sqlite_url, redis_url, fake, 60_000):
        yield c


async def _subscribed(client: Any, fake: FakeBinance) -> tuple[str, WsClient]:
    token, _ = await register(client)
    ws = await open_ws(client, token)
    await ws.ws.send_json({"type": "subscribe", "symbols": ["BTCUSDT"], "interval": "1m"})
    await ws.wait_for(lambda m: m["type"] == "SUBSCRIPTIONS")
    await fake.stream_connected.wait()
    return token, ws


def _price(value: str) -> Any:
    return lambda m: m.get("type") == "PRICE_UPDATE" and m["symbol"] == "BTCUSDT" and m["price"] == value


async def test_history_from_klines_and_live_trades_with_the_book(client: Any, fake: FakeBinance) -> None:
    candles = (await (await client.get("/api/market/candles?symbol=BTCUSDT&interval=1h&limit=500")).json())["candles"]
    assert len(candles) == 500 and candles[-1]["c"] == "50001.5"
    assert {r["interval"] for r in fake.kline_requests} == {"1m", "5m", "15m", "1h", "4h", "1d"}
    _, ws = await _subscribed(client, fake)
    await fake.push_book("BTCUSDT", "50000.10", "50000.20")
    await fake.push_trade("BTCUSDT", "50000.15", qty="0.25")
    tick = await ws.wait_for(_price("50000.15"))
    assert (tick["bid"], tick["ask"]) == ("50000.1", "50000.2")
    candle = await ws.wait_for(lambda m: m["type"] == "CANDLE_UPDATE" and m["candle"]["c"] == "50000.15")
    assert Decimal(candle["candle"]["v"]) >= Decimal("0.25")
    ticker = await (await client.get("/api/market/ticker?symbol=BTCUSDT")).json()
    assert ticker["price"] == "50000.15" and ticker["stale"] is False


async def test_garbage_and_out_of_order_trades_never_reach_the_market(client: Any, fake: FakeBinance) -> None:
    _, ws = await _subscribed(client, fake)
    now = int(time.time() * 1000)
    await fake.push_trade("BTCUSDT", "50010", ts=now, trade_id=1000)
    await ws.wait_for(_price("50010"))
    for bad in ("-1", "0", "NaN", "Infinity", "1e400x", ""):
        await fake.push_trade("BTCUSDT", bad, ts=now + 1)
    await fake.push_raw("BTCUSDT", "this is not json")
    await fake.push_raw("BTCUSDT", '{"stream":"btcusdt@trade","data":[1,2]}')
    await fake.push_trade("BTCUSDT", "1.23", ts=now - 60_000, trade_id=999)  # older than the last one
    await fake.push_trade("BTCUSDT", "50020", ts=now + 2, trade_id=1001)
    await ws.wait_for(_price("50020"))
    prices = [m["price"] for m in ws.seen if m.get("type") == "PRICE_UPDATE"]
    assert prices == ["50010", "50020"]


async def test_a_dropped_stream_reconnects_and_reloads_history(client: Any, fake: FakeBinance) -> None:
    _, ws = await _subscribed(client, fake)
    await fake.push_trade("BTCUSDT", "50030")
    await ws.wait_for(_price("50030"))
    history_requests = len(fake.kline_requests)
    await fake.drop_streams()
    await fake.stream_connected.wait()
    assert fake.stream_connects == 2
    await fake.push_trade("BTCUSDT", "50040")
    await ws.wait_for(_price("50040"))
    assert len(fake.kline_requests) > history_requests, "the gap was filled from /api/v3/klines"


async def test_silent_feed_is_stale_market_orders_wait_limit_orders_do_not(
        aiohttp_client: Any, tmp_path: Path, sqlite_url: str, redis_url: str, fake: FakeBinance) -> None:
    async for client in _app(aiohttp_client, tmp_path, sqlite_url, redis_url, fake, 700):
        token, ws = await _subscribed(client, fake)
        await fake.push_book("BTCUSDT", "49999", "50001")
        await fake.push_trade("BTCUSDT", "50000")
        await ws.wait_for(_price("50000"))
        ws.seen.clear()  # only a status after this trade counts
        status = await ws.wait_for(lambda m: m["type"] == "MARKET_STATUS" and m["symbol"] == "BTCUSDT")
        assert status["stale"] is True
        market = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01"}
        refused = await client.post("/api/trading/orders", json=market, headers=auth(token))
        body = await refused.json()
        assert refused.status == 503 and body["code"] == "STALE_PRICES" and "BTCUSDT" in body["detail"]
        limit = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "40000"}
        assert (await client.post("/api/trading/orders", json=limit, headers=auth(token))).status == 202
        assert (await (await client.get("/api/market/ticker?symbol=BTCUSDT")).json())["stale"] is True
        ws.seen.clear()
        await fake.push_trade("BTCUSDT", "50005")
        fresh = await ws.wait_for(lambda m: m["type"] == "MARKET_STATUS" and m["symbol"] == "BTCUSDT")
        assert fresh["stale"] is False
        accepted = await client.post("/api/trading/orders", json=market, headers=auth(token))
        assert accepted.status == 202
        await ws.order_status((await accepted.json())["orderId"], {"FILLED"})
