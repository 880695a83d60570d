"""Binance's user data against a running Troupe: the WebSocket API (every method, its signature and
timestamp errors, orders that are the same orders Troupe's API shows), the user data events of
orders placed over it, over REST and from the terminal, with the exact decimals of Troupe's own API,
users kept apart, revoked keys, and the listen keys (create, keepalive, delete, expiry)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import ccxt.pro as ccxtpro
import pytest
from binance import AsyncClient, BinanceSocketManager
from binance.exceptions import BinanceAPIException

from app.events import Balance, BalancesChanged
from app.messages import EventBatch
from tests.integration.binance_api.test_errors import check, signed_query
from tests.support.binance_clients import Account, serve, troupe_pro_urls
from tests.support.binance_ws import WsApi, ws_signed
from tests.support.helpers import ServerProcess, auth, new_api_key, register
from web.binance.user_data import MAX_QUEUE, USER_DATA


async def ws_api(client: Any) -> WsApi:
    return WsApi(await client.ws_connect("/ws-api/v3"))


async def own(client: Any, token: str, path: str) -> Any:
    resp = await client.get(path, headers=auth(token))
    assert resp.status == 200, await resp.text()
    return await resp.json()


def error(answer: dict[str, Any], status: int, code: int) -> None:
    assert set(answer) == {"id", "status", "error", "rateLimits"}, answer
    check(answer["status"], answer["error"], status, code)


async def test_every_method_and_its_errors(client: Any) -> None:
    token, _ = await register(client)
    key = await new_api_key(client, token, ["read", "trade"])
    reader = await new_api_key(client, token, ["read"])
    api = await ws_api(client)
    pong = await api.call("ping")
    assert (pong["status"], pong["result"]) == (200, {})
    assert pong["rateLimits"][0]["rateLimitType"] == "REQUEST_WEIGHT" and pong["rateLimits"][0]["count"] >= 1
    assert abs((await api.call("time"))["result"]["serverTime"] - time.time() * 1000) < 5000
    status = (await api.call("session.status"))["result"]
    assert status["userDataStream"] is False and status["apiKey"] is None
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001",
             "price": "1000.00"}
    now = int(time.time() * 1000)
    stale = ws_signed(key, {}, timestamp=now - 60_000)
    ahead = ws_signed(key, {}, timestamp=now + 5_000)
    forged = {**ws_signed(key, {}), "signature": "0" * 64}
    unknown_key = ws_signed({"apiKey": "n" * 64, "secretKey": "s"}, {})
    cases = [
        (await api.call("account.status", {"timestamp": now}), 400, -1102),
        (await api.call("account.status", forged), 400, -1022),
        (await api.call("account.status", stale), 400, -1021),
        (await api.call("account.status", ahead), 400, -1021),
        (await api.call("account.status", unknown_key), 401, -2015),
        (await api.call("order.place", order, reader), 401, -2015),
        (await api.call("account.status", {"recvWindow": 70000}, key), 400, -1130),
        (await api.call("order.place", {**order, "quantity": "9000"}, key), 400, -2010),
        (await api.call("order.place", {**order, "price": "1000.001"}, key), 400, -1013),
        (await api.call("order.place", {**order, "side": "UP"}, key), 400, -1117),
        (await api.call("order.status", {"symbol": "BTCUSDT", "orderId": 424242}, key), 400, -2013),
        (await api.call("order.cancel", {"symbol": "BTCUSDT", "origClientOrderId": "nope"}, key), 400, -2011),
        (await api.call("order.status", {"symbol": "NOPEUSDT", "orderId": 1}, key), 400, -1121),
    ]
    for answer, expected_status, code in cases:
        error(answer, expected_status, code)
    tested = await api.call("order.test", {**order, "quantity": "0.020"}, key)
    assert tested.get("result") == {}, tested
    error(await api.call("order.test", order, key), 400, -1013)  # 1 USDT: below NOTIONAL
    assert (await api.call("openOrders.status", {}, key))["result"] == []  # nothing was placed
    # Frames that are not requests get Binance's error answer, and the connection stays.
    await api.ws.send_str("{not json")
    error(await api.wait_for(lambda m: m.get("status") == 400 and m.get("id") is None
                             and m["error"]["code"] == -1100), 400, -1100)
    error(await api.call("no.such.method"), 400, -1020)
    await api.send({"id": "x1", "method": "ping", "params": {"nested": {"a": 1}}})
    error(await api.wait_for(lambda m: m.get("id") == "x1"), 400, -1100)
    assert (await api.call("ping"))["status"] == 200
    await api.close()


async def test_ws_api_orders_are_troupes_orders_and_their_events_match(client: Any) -> None:
    token, _ = await register(client)
    key = await new_api_key(client, token, ["read", "trade"])
    api = await ws_api(client)
    sub = await api.call("userDataStream.subscribe.signature", {}, key)
    assert sub["status"] == 200 and sub["result"] == {"subscriptionId": 0}
    assert (await api.call("session.status"))["result"]["userDataStream"] is True
    assert (await api.call("session.subscriptions"))["result"] == [{"subscriptionId": 0}]

    placed = await api.call("order.place", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                            "quantity": "0.002", "newOrderRespType": "FULL"}, key)
    assert placed["status"] == 200, placed
    result = placed["result"]
    order_id = result["orderId"]
    mine = await own(client, token, f"/api/trading/orders/{order_id}")
    assert mine["status"] == result["status"] == "FILLED" and mine["apiKeyId"] == key["id"]
    assert result["executedQty"] == mine["executedQty"] and result["cummulativeQuoteQty"] == mine["cummulativeQuoteQty"]
    rest = await client.get("/api/v3/order" + "?" + signed_query(key, f"symbol=BTCUSDT&orderId={order_id}"),
                            headers={"X-MBX-APIKEY": key["apiKey"]})
    assert (await rest.json())["clientOrderId"] == result["clientOrderId"] == mine["clientOrderId"]
    status = await api.call("order.status", {"symbol": "BTCUSDT", "orderId": order_id}, key)
    assert status["result"] == await rest.json() or status["result"]["status"] == "FILLED"

    # The events: NEW, then one TRADE per fill, the cumulative amounts Troupe's own.
    trade = await api.event("executionReport", i=order_id, X="FILLED")
    assert next(e["x"] for e in api.events("executionReport", i=order_id)) == "NEW"
    trades = api.events("executionReport", i=order_id, x="TRADE")
    assert [(t["L"], t["l"], t["n"]) for t in trades] == [(f["price"], f["qty"], f["commission"])
                                                         for f in mine["fills"]]
    assert trade["z"] == mine["executedQty"] and trade["Z"] == mine["cummulativeQuoteQty"]
    assert trade["c"] == mine["clientOrderId"] and trade["s"] == "BTCUSDT" and trade["S"] == "BUY"
    my_trades = await client.get("/api/v3/myTrades?" + signed_query(key, "symbol=BTCUSDT"),
                                 headers={"X-MBX-APIKEY": key["apiKey"]})
    assert [t["t"] for t in trades] == [t["id"] for t in await my_trades.json()]
    position = await api.event("outboundAccountPosition")
    balances = {b["asset"]: b for b in (await own(client, token, "/api/trading/balances"))["balances"]}
    for b in position["B"]:
        assert (b["f"], b["l"]) == (balances[b["a"]]["free"], balances[b["a"]]["locked"])

    # An order from the terminal (Troupe's own API) reaches the stream too; a resting one can be
    # listed and canceled over the WebSocket API.
    bid = Decimal((await own(client, token, "/api/market/ticker?symbol=BTCUSDT"))["bid"])
    price = str((bid / 2).quantize(Decimal("0.01")))
    resp = await client.post("/api/trading/orders", headers=auth(token), json={
        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001",
        "price": price, "clientOrderId": "from-the-terminal"})
    assert resp.status == 202, await resp.text()
    resting = (await resp.json())["orderId"]
    new = await api.event("executionReport", i=resting, x="NEW", X="NEW")
    shown = await own(client, token, f"/api/trading/orders/{resting}")
    assert (new["p"], new["q"], new["c"], new["w"]) == (shown["price"], shown["origQty"], "from-the-terminal", True)
    assert Decimal(new["p"]) == Decimal(price)
    opened = await api.call("openOrders.status", {"symbol": "BTCUSDT"}, key)
    assert [o["orderId"] for o in opened["result"]] == [resting]
    canceled = await api.call("order.cancel", {"symbol": "BTCUSDT", "orderId": resting}, key)
    assert canceled["result"]["status"] == "CANCELED" and canceled["result"]["origClientOrderId"] == "from-the-terminal"
    gone = await api.event("executionReport", i=resting, x="CANCELED")
    assert gone["C"] == "from-the-terminal"
    account = await api.call("account.status", {}, key)
    rest_account = await client.get("/api/v3/account?" + signed_query(key, ""), headers={"X-MBX-APIKEY": key["apiKey"]})
    assert account["result"]["balances"] == (await rest_account.json())["balances"]

    assert (await api.call("userDataStream.unsubscribe", {"subscriptionId": 0}))["result"] == {}
    assert (await api.call("session.subscriptions"))["result"] == []
    error(await api.call("userDataStream.unsubscribe", {"subscriptionId": 7}), 400, -1130)
    await api.close()


async def test_users_never_see_each_others_events_and_revoked_keys_end_their_streams(client: Any) -> None:
    token_a, _ = await register(client)
    token_b, _ = await register(client)
    key_a = await new_api_key(client, token_a, ["read", "trade"])
    key_b = await new_api_key(client, token_b, ["read", "trade"])
    a, b = await ws_api(client), await ws_api(client)
    assert (await a.call("userDataStream.subscribe.signature", {}, key_a))["status"] == 200
    assert (await b.call("userDataStream.subscribe.signature", {}, key_b))["status"] == 200
    listen = await client.post("/api/v3/userDataStream", headers={"X-MBX-APIKEY": key_b["apiKey"]})
    stream_b = WsApi(await client.ws_connect(f"/ws/{(await listen.json())['listenKey']}"))
    placed = await a.call("order.place", {"symbol": "ETHUSDT", "side": "SELL", "type": "MARKET",
                                          "quantity": "0.0100"}, key_a)
    await a.event("executionReport", i=placed["result"]["orderId"], X="FILLED")
    await a.event("outboundAccountPosition")
    # B's sockets got whatever was dispatched with A's events before this answer, in order: nothing.
    assert (await b.call("ping"))["status"] == 200
    assert [m for m in b.seen if "subscriptionId" in m] == []
    assert stream_b.seen == []

    resp = await client.delete(f"/api/account/api-keys/{key_b['id']}", headers=auth(token_b))
    assert resp.status in (200, 204), await resp.text()
    ended = await b.wait_for(lambda m: m.get("event", {}).get("e") == "eventStreamTerminated")
    assert ended["subscriptionId"] == 0
    closed = await stream_b.ws.receive(timeout=5)
    assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), closed
    error(await b.call("account.status", {}, key_b), 401, -2015)
    await a.close()
    await b.close()


async def test_a_transfer_to_and_from_the_cfd_margin_is_a_balance_update(client: Any) -> None:
    """Spot wallet <-> CFD margin is Binance's transfer between accounts: `balanceUpdate` with the spot
    wallet's change, then the wallet as the API shows it."""
    token, _ = await register(client)
    key = await new_api_key(client, token, ["read", "trade"])
    api = await ws_api(client)
    assert (await api.call("userDataStream.subscribe.signature", {}, key))["status"] == 200
    for direction, amount, delta in (("TO_MARGIN", "25.5", "-25.5"), ("TO_SPOT", "5", "5")):
        resp = await client.post("/api/cfd/transfer", headers=auth(token), json={
            "direction": direction, "amount": amount, "clientRequestId": f"t-{direction}"})
        assert resp.status in (200, 201), await resp.text()
        update = await api.event("balanceUpdate", d=delta)
        assert update["a"] == "USDT" and isinstance(update["E"], int) and update["T"] == update["E"]
        usdt = next(b for b in (await own(client, token, "/api/trading/balances"))["balances"] if b["asset"] == "USDT")
        wallet = [{"a": "USDT", "f": usdt["free"], "l": usdt["locked"]}]
        await api.wait_for(lambda m, wallet=wallet: m.get("event", {}).get("e") == "outboundAccountPosition"
                           and m["event"]["B"] == wallet)
    await api.close()


async def test_listen_keys(client: Any) -> None:
    token, _ = await register(client)
    key = await new_api_key(client, token, ["read", "trade"])
    other = await new_api_key(client, token, ["read"])
    h = {"X-MBX-APIKEY": key["apiKey"]}

    async def call(method: str, headers: dict[str, str], query: str = "") -> tuple[int, dict[str, Any]]:
        resp = await client.request(method, "/api/v3/userDataStream" + (f"?{query}" if query else ""), headers=headers)
        return resp.status, await resp.json()

    status, body = await call("POST", {})
    check(status, body, 401, -2014)
    status, body = await call("POST", {"X-MBX-APIKEY": "n" * 64})
    check(status, body, 401, -2015)
    status, body = await call("POST", h)
    listen_key = body["listenKey"]
    assert status == 200 and len(listen_key) == 60 and listen_key.isalnum()
    assert (await call("POST", h))[1] == {"listenKey": listen_key}  # the live one, kept alive
    assert await call("PUT", h, f"listenKey={listen_key}") == (200, {})
    status, body = await call("PUT", {"X-MBX-APIKEY": other["apiKey"]}, f"listenKey={listen_key}")
    check(status, body, 400, -1125)
    status, body = await call("PUT", h)
    check(status, body, 400, -1102)

    stream = WsApi(await client.ws_connect(f"/ws/{listen_key}"))
    suffix = signed_query(key, "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001")
    placed = await (await client.post(f"/api/v3/order?{suffix}", headers=h)).json()
    report = await stream.event("executionReport", i=placed["orderId"], X="FILLED")
    assert "subscriptionId" not in stream.seen[-1] and report["z"] == placed["executedQty"]
    assert report["Z"] == placed["cummulativeQuoteQty"]

    client.server.app[USER_DATA].expiry_check_s = 0.1
    assert await call("DELETE", h, f"listenKey={listen_key}") == (200, {})
    expired = await stream.event("listenKeyExpired", timeout=15)
    assert expired["listenKey"] == listen_key
    assert (await stream.ws.receive(timeout=5)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    resp = await client.get(f"/ws/{listen_key}")
    assert resp.status == 400 and (await resp.json())["code"] == -1125

    # Unless kept alive, a key expires by itself.
    client.server.app[USER_DATA].listen_key_ttl_s = 1
    short = (await call("POST", h))[1]["listenKey"]
    assert short != listen_key
    stream = WsApi(await client.ws_connect(f"/ws/{short}"))
    assert (await stream.event("listenKeyExpired", timeout=15))["listenKey"] == short
    status, body = await call("PUT", h, f"listenKey={short}")
    check(status, body, 400, -1125)
    assert json.dumps(body)



async def test_an_oco_sends_its_list_status_when_it_starts_and_when_it_is_done(client: Any) -> None:
    token, _ = await register(client)
    key = await new_api_key(client, token, ["read", "trade"])
    api = await ws_api(client)
    assert (await api.call("userDataStream.subscribe.signature", {}, key))["status"] == 200
    assert (await api.call("order.place", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                           "quantity": "0.01000"}, key))["status"] == 200
    bid = Decimal((await own(client, token, "/api/market/ticker?symbol=BTCUSDT"))["bid"])
    above, below = (bid * Decimal("1.5")).quantize(Decimal("0.01")), (bid * Decimal("0.5")).quantize(Decimal("0.01"))
    h = {"X-MBX-APIKEY": key["apiKey"]}
    query = signed_query(key, f"symbol=BTCUSDT&side=SELL&quantity=0.01000&listClientOrderId=ws-oco&aboveType="
                              f"LIMIT_MAKER&abovePrice={above}&belowType=STOP_LOSS&belowStopPrice={below}")
    placed = await (await client.post(f"/api/v3/orderList/oco?{query}", headers=h)).json()
    started = await api.event("listStatus", g=placed["orderListId"], l="EXEC_STARTED")
    assert (started["c"], started["L"], started["C"], started["s"]) == ("OCO", "EXECUTING", "ws-oco", "BTCUSDT")
    assert {o["i"] for o in started["O"]} == {o["orderId"] for o in placed["orders"]}
    query = signed_query(key, f"symbol=BTCUSDT&orderListId={placed['orderListId']}")
    assert (await client.delete(f"/api/v3/orderList?{query}", headers=h)).status == 200
    done = await api.event("listStatus", g=placed["orderListId"], l="ALL_DONE")
    assert done["L"] == "ALL_DONE"
    assert len(api.events("listStatus", g=placed["orderListId"])) == 2  # once each, whatever the legs did
    await api.close()


async def test_session_logon_authenticates_the_connection_until_logout(client: Any) -> None:
    token, _ = await register(client)
    key = await new_api_key(client, token, ["read", "trade"])
    api = await ws_api(client)
    error(await api.call("userDataStream.subscribe"), 401, -1002)
    error(await api.call("session.logon", {"apiKey": key["apiKey"], "timestamp": int(time.time() * 1000)}), 400,
          -1102)
    logon = await api.call("session.logon", {}, key)
    assert logon["status"] == 200 and logon["result"]["apiKey"] == key["apiKey"]
    assert logon["result"]["authorizedSince"] >= logon["result"]["connectedSince"]
    # Signed methods now need only a timestamp; the subscription is the session key's user's.
    account = await api.call("account.status", {"timestamp": int(time.time() * 1000)})
    assert account["status"] == 200 and account["result"]["canTrade"] is True
    error(await api.call("account.status", {"timestamp": int(time.time() * 1000) - 60_000}), 400, -1021)
    error(await api.call("account.status", {}), 400, -1102)
    sub = await api.call("userDataStream.subscribe")
    assert sub["result"] == {"subscriptionId": 0}
    placed = await api.call("order.place", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001",
                                            "timestamp": int(time.time() * 1000)})
    assert placed["status"] == 200, placed
    await api.event("executionReport", i=placed["result"]["orderId"], X="FILLED")
    logout = await api.call("session.logout")
    assert logout["result"]["apiKey"] is None and logout["result"]["authorizedSince"] is None
    error(await api.call("account.status", {"timestamp": int(time.time() * 1000)}), 400, -1102)
    await api.close()


async def test_a_socket_that_cannot_keep_up_is_closed_and_the_others_keep_their_events(client: Any) -> None:
    token_a, user_a = await register(client)
    token_b, user_b = await register(client)
    key_a = await new_api_key(client, token_a, ["read"])
    key_b = await new_api_key(client, token_b, ["read"])
    a, b = await ws_api(client), await ws_api(client)
    assert (await a.call("userDataStream.subscribe.signature", {}, key_a))["status"] == 200
    assert (await b.call("userDataStream.subscribe.signature", {}, key_b))["status"] == 200
    flood = [BalancesChanged(user_a["id"], f"c{n}", (Balance("USDT", Decimal(n), Decimal(0)),))
             for n in range(MAX_QUEUE + 1)]
    one = BalancesChanged(user_b["id"], "b", (Balance("BTC", Decimal("0.5"), Decimal("0.25")),))
    client.server.app[USER_DATA].dispatch([EventBatch(msg_id="flood", events=[*flood, one])])
    event = await b.event("outboundAccountPosition")
    assert event["B"] == [{"a": "BTC", "f": "0.5", "l": "0.25"}]
    async with asyncio.timeout(10):
        while (msg := await a.ws.receive()).type is aiohttp.WSMsgType.TEXT:
            pass
    assert (msg.type, a.ws.close_code) == (aiohttp.WSMsgType.CLOSE, 1013)
    assert (await b.call("ping"))["status"] == 200
    await b.close()


async def test_a_key_that_expires_ends_its_subscription(client: Any) -> None:
    token, _ = await register(client)
    key = await new_api_key(client, token, ["read"], expiresAt=int(time.time() * 1000) + 3000)
    client.server.app[USER_DATA].expiry_check_s = 0.1
    api = await ws_api(client)
    assert (await api.call("userDataStream.subscribe.signature", {}, key))["status"] == 200
    ended = await api.wait_for(lambda m: m.get("event", {}).get("e") == "eventStreamTerminated", timeout=15)
    assert ended["subscriptionId"] == 0
    assert (await api.call("session.subscriptions"))["result"] == []
    assert (await api.call("session.status"))["result"]["userDataStream"] is False
    await api.close()

# --- real clients, unchanged but for their URLs, against a Troupe server process -------------------

@pytest.fixture(scope="module")
def troupe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve(tmp_path_factory, "userdata")


@pytest.mark.crash  # a server process of its own
async def test_ccxt_pro_watches_orders_balance_and_trades(troupe: str) -> None:
    account = Account(troupe)
    ex = ccxtpro.binance({"apiKey": account.key["apiKey"], "secret": account.key["secretKey"],
                          "enableRateLimit": False})
    ex.urls["api"] = troupe_pro_urls(troupe, ex.urls["api"]["ws"])
    try:
        await ex.load_markets()
        await ex.authenticate()  # the WebSocket API's userDataStream.subscribe.signature, answered
        orders = asyncio.create_task(ex.watch_orders("BTC/USDT"))
        balance = asyncio.create_task(ex.watch_balance())
        trades = asyncio.create_task(ex.watch_my_trades("BTC/USDT"))
        bought = await ex.create_order("BTC/USDT", "market", "buy", 0.001)
        mine = account.get(f"/api/trading/orders/{bought['id']}")
        watched = await asyncio.wait_for(orders, 15)
        assert bought["id"] in [o["id"] for o in watched]
        while (order := next(o for o in ex.orders if o["id"] == bought["id"]))["status"] != "closed":
            await asyncio.wait_for(ex.watch_orders("BTC/USDT"), 15)
        assert order["clientOrderId"] == mine["clientOrderId"] and order["info"]["z"] == mine["executedQty"]
        assert order["info"]["Z"] == mine["cummulativeQuoteQty"]
        seen = await asyncio.wait_for(trades, 15)
        assert [(t["info"]["L"], t["info"]["l"]) for t in seen] == [(f["price"], f["qty"])
                                                                   for f in mine["fills"]][:len(seen)]
        rest_trades = await ex.fetch_my_trades("BTC/USDT")
        assert {t["id"] for t in seen} <= {t["id"] for t in rest_trades}
        wallet = await asyncio.wait_for(balance, 15)
        own_balances = {b["asset"]: b for b in account.get("/api/trading/balances")["balances"]}
        for asset in ("BTC", "USDT"):
            assert Decimal(str(wallet[asset]["free"])) == Decimal(own_balances[asset]["free"])
        # Orders over the WebSocket API as well: the same order Troupe's API shows.
        ws_order = await ex.create_order_ws("BTC/USDT", "market", "sell", 0.001)
        assert account.get(f"/api/trading/orders/{ws_order['id']}")["status"] == "FILLED"
    finally:
        await ex.close()


@pytest.mark.crash
async def test_python_binance_user_socket_and_ws_api(troupe: str) -> None:
    account = Account(troupe)
    client_class = type("TroupeClient", (AsyncClient,), {
        "WS_API_URL": troupe.replace("http", "ws", 1) + "/ws-api/v3"})
    client = client_class(account.key["apiKey"], account.key["secretKey"])
    client.API_URL = f"{troupe}/api"
    try:
        assert (await client.ws_get_account())["balances"] == account.get("/api/trading/balances")["balances"]
        async with BinanceSocketManager(client).user_socket() as stream:
            order = await client.ws_create_order(symbol="ETHUSDT", side="SELL", type="MARKET", quantity="0.0100")
            mine = account.get(f"/api/trading/orders/{order['orderId']}")
            assert order["status"] == mine["status"] == "FILLED" and order["executedQty"] == mine["executedQty"]
            found = await client.ws_get_order(symbol="ETHUSDT", orderId=order["orderId"])
            assert found["cummulativeQuoteQty"] == mine["cummulativeQuoteQty"]
            events: list[dict[str, Any]] = []
            while not any(e.get("e") == "executionReport" and e.get("X") == "FILLED" for e in events):
                events.append(await asyncio.wait_for(stream.recv(), 15))
            filled = next(e for e in events if e.get("e") == "executionReport" and e.get("X") == "FILLED")
            assert (filled["i"], filled["z"], filled["Z"]) == (order["orderId"], mine["executedQty"],
                                                              mine["cummulativeQuoteQty"])
        with pytest.raises(BinanceAPIException) as refused:
            await client.ws_get_order(symbol="ETHUSDT", orderId=999999999)
        assert refused.value.code == -2013
    finally:
        await client.close_connection()



@pytest.mark.crash  # two server processes
async def test_a_listen_key_made_on_one_web_process_streams_on_another(tmp_path: Path, redis_url: str) -> None:
    shared = {"REDIS_URL": redis_url, "STREAM_PREFIX": f"ud{int(time.time() * 1000) % 10**9}",
              "DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}", "JWT_SECRET": "k" * 48,
              "MASTER_KEY": "cd" * 32}
    a = ServerProcess(tmp_path / "a", {**shared, "NODE_NAME": "web-a"})
    b = ServerProcess(tmp_path / "b", {**shared, "NODE_NAME": "web-b", "ROLE": "web"})
    url_a = a.start()
    url_b = b.start()
    try:
        async with aiohttp.ClientSession(url_a) as on_a, aiohttp.ClientSession(url_b) as on_b:
            token, _ = await register(on_a)
            key = await new_api_key(on_a, token, ["read", "trade"])
            h = {"X-MBX-APIKEY": key["apiKey"]}
            listen_key = (await (await on_a.post("/api/v3/userDataStream", headers=h)).json())["listenKey"]
            assert (await on_b.put(f"/api/v3/userDataStream?listenKey={listen_key}", headers=h)).status == 200
            stream = WsApi(await on_b.ws_connect(f"/ws/{listen_key}"))
            query = signed_query(key, "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001")
            placed = await (await on_a.post(f"/api/v3/order?{query}", headers=h)).json()
            report = await stream.event("executionReport", i=placed["orderId"], X="FILLED")
            assert (report["z"], report["Z"]) == (placed["executedQty"], placed["cummulativeQuoteQty"])
            resp = await on_a.delete(f"/api/account/api-keys/{key['id']}", headers=auth(token))
            assert resp.status in (200, 204)
            async with asyncio.timeout(10):  # the events still queued, then the close
                while (closed := await stream.ws.receive()).type is aiohttp.WSMsgType.TEXT:
                    pass
            assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), closed
    finally:
        b.stop()
        a.stop()
