"""WebSocket authentication, subscriptions and snapshots; health, readiness and headers."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.support.helpers import auth, open_ws, register


async def test_ticket_is_single_use_and_required(client: Any) -> None:
    token, _ = await register(client)
    ticket = (await (await client.post("/api/ws-ticket", headers=auth(token))).json())["ticket"]
    ws = await client.ws_connect(f"/ws?ticket={ticket}")
    await ws.close()
    for url in (f"/ws?ticket={ticket}", "/ws", "/ws?ticket=forged"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await client.ws_connect(url)
        assert info.value.status == 401


async def test_foreign_origin_is_refused(client: Any) -> None:
    token, _ = await register(client)
    ticket = (await (await client.post("/api/ws-ticket", headers=auth(token))).json())["ticket"]
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.ws_connect(f"/ws?ticket={ticket}", headers={"Origin": "https://evil.example"})
    assert info.value.status == 403


async def test_subscription_streams_prices_and_candles_for_chosen_symbols(client: Any) -> None:
    token, _ = await register(client)
    ws = await open_ws(client, token)
    await ws.send({"type": "subscribe", "symbols": ["ETHUSDT"], "interval": "5m"})
    price = await ws.wait_for(lambda m: m["type"] == "PRICE_UPDATE")
    assert price["symbol"] == "ETHUSDT" and {"price", "bid", "ask", "ts"} <= set(price)
    candle = await ws.wait_for(lambda m: m["type"] == "CANDLE_UPDATE")
    assert candle["interval"] == "5m" and candle["symbol"] == "ETHUSDT"
    await ws.send({"type": "subscribe", "symbols": ["NOPE"]})
    assert await ws.wait_for(lambda m: m["type"] == "ERROR") == {
        "type": "ERROR", "detail": "symbols must be a list drawn from BTCUSDT, ETHUSDT, SOLUSDT, BNBUSDT"}
    before = len(ws.seen)  # the refused subscribe changed nothing: ETHUSDT keeps streaming
    later = await ws.wait_for(lambda m: m["type"] == "PRICE_UPDATE" and ws.seen.index(m) >= before)
    assert later["symbol"] == "ETHUSDT"
    assert not any(m.get("symbol") == "BTCUSDT" for m in ws.seen)
    await ws.close()


async def test_every_tab_of_a_user_gets_the_users_events(client: Any) -> None:
    token, _ = await register(client)
    tabs = [await open_ws(client, token) for _ in range(2)]
    resp = await client.post("/api/trading/orders", headers=auth(token),
                             json={"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01",
                                   "price": "1000"})
    order_id = (await resp.json())["orderId"]
    for tab in tabs:
        update = await tab.order_status(order_id, {"NEW"})
        assert update["orderType"] == "LIMIT"
    reconnect = await open_ws(client, token)
    snapshot = reconnect.seen[0]
    assert [o["orderId"] for o in snapshot["openOrders"]] == [order_id]
    assert {b["asset"] for b in snapshot["balances"]} >= {"USDT", "BTC"}


async def test_health_readiness_and_security_headers(client: Any) -> None:
    assert (await client.get("/healthz")).status == 200
    ready = await client.get("/readyz")
    body = await ready.json()
    assert ready.status == 200 and all(body["actors"].values()) and body["checks"] == {"database": True,
                                                                                          "redis": True}
    page = await client.get("/")
    assert page.status == 200
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    api = await client.get("/api/market/symbols")
    assert api.headers["Cache-Control"] == "no-store"
    symbols = (await api.json())["symbols"]
    assert {f["filterType"] for f in symbols[0]["filters"]} == {"PRICE_FILTER", "LOT_SIZE", "NOTIONAL"}


async def test_candles_and_ticker_are_never_empty(client: Any) -> None:
    for interval in ("1m", "5m", "15m", "1h", "4h", "1d"):
        resp = await client.get(f"/api/market/candles?symbol=BTCUSDT&interval={interval}&limit=300")
        candles = (await resp.json())["candles"]
        assert len(candles) == 300
        assert [c["t"] for c in candles] == sorted(c["t"] for c in candles)
    ticker = await (await client.get("/api/market/ticker?symbol=SOLUSDT")).json()
    from decimal import Decimal
    assert Decimal(ticker["bid"]) <= Decimal(ticker["ask"])
