"""Amending an order (`POST /api/trading/orders/{id}/replace`) and canceling many (`DELETE /api/trading/orders`),
through the real Gateway and Executor, with the market driven by the test (`tests/support/scripted_market.py`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.support.helpers import WsClient, auth, dec, open_ws, register
from tests.support.invariants import check_ledger, check_orders
from tests.support.scripted_market import Market


async def _trader(client: Any, price: str = "65000") -> tuple[str, WsClient, Market]:
    token, _ = await register(client)
    ws = await open_ws(client, token)
    market = Market(client)
    market.tick(price)
    return token, ws, market


async def _limit(client: Any, token: str, ws: WsClient, price: str, symbol: str = "BTCUSDT",
                 side: str = "BUY") -> int:
    resp = await client.post("/api/trading/orders", headers=auth(token), json={
        "symbol": symbol, "side": side, "type": "LIMIT", "quantity": "0.01", "price": price})
    assert resp.status == 202, await resp.text()
    order_id = (await resp.json())["orderId"]
    await ws.order_status(order_id, {"NEW"})
    return int(order_id)


async def _replace(client: Any, token: str, order_id: int, **body: str) -> tuple[int, dict[str, Any]]:
    resp = await client.post(f"/api/trading/orders/{order_id}/replace", json=body, headers=auth(token))
    return resp.status, await resp.json()


async def _open(client: Any, token: str, symbol: str | None = None) -> list[dict[str, Any]]:
    query = "?status=OPEN" + (f"&symbol={symbol}" if symbol else "")
    resp = await client.get(f"/api/trading/orders{query}", headers=auth(token))
    assert resp.status == 200
    return list((await resp.json())["orders"])


async def _locked_usdt(client: Any, token: str) -> Decimal:
    balances = (await (await client.get("/api/trading/balances", headers=auth(token))).json())["balances"]
    return next(dec(b["locked"]) for b in balances if b["asset"] == "USDT")


async def test_replace_moves_one_order_and_a_retry_finds_the_same_one(client: Any) -> None:
    token, ws, _ = await _trader(client)
    old = await _limit(client, token, ws, "60000")
    status, body = await _replace(client, token, old, price="61000", clientOrderId="amend-1")
    assert status == 202 and body["replacesOrderId"] == old and body["status"] == "PENDING", body
    new = body["orderId"]
    assert (await ws.order_status(old, {"CANCELED"}))["status"] == "CANCELED"
    placed = await ws.order_status(new, {"NEW", "REJECTED"})
    assert placed["status"] == "NEW" and placed["price"] == "61000" and placed["origQty"] == "0.01", placed
    still = await _open(client, token, "BTCUSDT")
    assert [(o["orderId"], o["price"]) for o in still] == [(new, "61000")], "one order, moved"
    assert await _locked_usdt(client, token) == Decimal("610.00"), "the new price's funds are locked, once"
    again_status, again = await _replace(client, token, old, price="61000", clientOrderId="amend-1")
    assert again_status == 200 and again["orderId"] == new, "the same clientOrderId never replaces twice"
    conflict_status, conflict = await _replace(client, token, old, price="62000", clientOrderId="amend-1")
    assert conflict_status == 409 and conflict["code"] == "DUPLICATE_CLIENT_ORDER_ID", conflict
    assert len(await _open(client, token)) == 1
    check_ledger()
    check_orders()


async def test_replace_of_a_filled_order_is_refused_and_places_nothing(client: Any) -> None:
    token, ws, market = await _trader(client)
    old = await _limit(client, token, ws, "60000")
    market.tick("59000")
    await ws.order_status(old, {"FILLED"})
    status, body = await _replace(client, token, old, price="58000")
    assert status == 409 and body["code"] == "ORDER_NOT_CANCELABLE" and "FILLED" in body["detail"], body
    assert await _open(client, token) == []
    listed = (await (await client.get("/api/trading/orders", headers=auth(token))).json())["orders"]
    assert [o["orderId"] for o in listed] == [old], "no new order exists"


async def test_an_order_filled_before_the_executor_applies_the_replace_is_left_and_the_new_one_rejected(
        client: Any) -> None:
    """The old order crosses the book and fills as it is placed; the replace sent right after reaches the
    Gateway either before the Executor filled it (then the Executor rejects the new order) or after (then the
    Gateway refuses): either way one order filled, nothing new works, and the trader is told why."""
    token, ws, _ = await _trader(client)
    resp = await client.post("/api/trading/orders", headers=auth(token), json={
        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "70000"})
    old = (await resp.json())["orderId"]
    status, body = await _replace(client, token, old, price="64000")
    assert (await ws.order_status(old, {"FILLED", "CANCELED"}))["status"] == "FILLED"
    if status == 202:
        rejected = await ws.order_status(body["orderId"], {"REJECTED", "NEW"})
        assert rejected["status"] == "REJECTED" and "FILLED" in rejected["rejectReason"], rejected
    else:
        assert status == 409 and body["code"] == "ORDER_NOT_CANCELABLE", body
    assert await _open(client, token) == []
    check_ledger()


async def test_bad_replace_input_names_the_field_and_changes_nothing(client: Any) -> None:
    token, ws, _ = await _trader(client)
    old = await _limit(client, token, ws, "60000")
    for body, field, code in (({"price": "abc"}, "price", 400), ({"price": True}, "price", 400),
                              ({"price": "1e5"}, "price", 400), ({"nope": "1"}, "nope", 400),
                              ({}, "price", 400), ({"clientOrderId": "x" * 40, "price": "1"}, "clientOrderId", 400),
                              ({"price": "61000.001"}, "price", 422), ({"stopPrice": "61000"}, "stopPrice", 400)):
        status, answer = await _replace(client, token, old, **body)
        assert (status, answer.get("field")) == (code, field), (body, answer)
    resp = await client.post(f"/api/trading/orders/{old}/replace", data=b"{",
                             headers={**auth(token), "Content-Type": "application/json"})
    assert resp.status == 400
    assert [(o["orderId"], o["price"]) for o in await _open(client, token)] == [(old, "60000")]


async def test_another_users_order_looks_missing(client: Any) -> None:
    token, ws, _ = await _trader(client)
    old = await _limit(client, token, ws, "60000")
    other, _ = await register(client)
    status, body = await _replace(client, other, old, price="61000")
    assert status == 404 and body["code"] == "UNKNOWN_ORDER", body
    status, body = await _replace(client, other, 10**17, price="61000")
    assert status == 404 and body["code"] == "UNKNOWN_ORDER"
    assert [(o["orderId"], o["price"]) for o in await _open(client, token)] == [(old, "60000")]


async def test_cancel_all_of_one_symbol_then_of_every_symbol(client: Any) -> None:
    token, ws, _ = await _trader(client)
    Market(client, "ETHUSDT").tick("3000")
    btc = [await _limit(client, token, ws, p) for p in ("60000", "59000")]
    eth = await _limit(client, token, ws, "2500", symbol="ETHUSDT")
    resp = await client.delete("/api/trading/orders?symbol=NOPE", headers=auth(token))
    assert resp.status == 400 and (await resp.json())["field"] == "symbol"
    resp = await client.delete("/api/trading/orders?symbol=BTCUSDT", headers=auth(token))
    assert resp.status == 202
    body = await resp.json()
    assert sorted(o["orderId"] for o in body["orders"]) == btc and body["symbol"] == "BTCUSDT"
    for order_id in btc:
        await ws.order_status(order_id, {"CANCELED"})
    assert [o["orderId"] for o in await _open(client, token)] == [eth]
    resp = await client.delete("/api/trading/orders", headers=auth(token))
    assert resp.status == 202 and [o["orderId"] for o in (await resp.json())["orders"]] == [eth]
    await ws.order_status(eth, {"CANCELED"})
    resp = await client.delete("/api/trading/orders", headers=auth(token))
    assert resp.status == 200 and (await resp.json())["orders"] == [], "nothing left: nothing to do"
    assert await _locked_usdt(client, token) == 0
    check_ledger()


async def test_post_only_that_would_take_is_rejected(client: Any) -> None:
    token, ws, _ = await _trader(client)
    resp = await client.post("/api/trading/orders", headers=auth(token), json={
        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT_MAKER", "quantity": "0.01", "price": "66000"})
    assert resp.status == 202
    rejected = await ws.order_status((await resp.json())["orderId"], {"REJECTED", "NEW", "FILLED"})
    assert rejected["status"] == "REJECTED" and rejected["rejectReason"] == "Order would immediately match and take."
    resting = await client.post("/api/trading/orders", headers=auth(token), json={
        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT_MAKER", "quantity": "0.01", "price": "64000"})
    assert (await ws.order_status((await resting.json())["orderId"], {"NEW", "REJECTED"}))["status"] == "NEW"


async def test_order_list_filters_and_pages(client: Any) -> None:
    token, ws, _ = await _trader(client)
    ids = [await _limit(client, token, ws, p, side=s) for p, s in
           (("60000", "BUY"), ("70000", "SELL"), ("59000", "BUY"), ("71000", "SELL"), ("58000", "BUY"))]

    async def page(query: str) -> dict[str, Any]:
        resp = await client.get(f"/api/trading/orders?{query}", headers=auth(token))
        assert resp.status == 200, await resp.text()
        return dict(await resp.json())

    buys = await page("side=BUY&limit=2")
    assert [o["orderId"] for o in buys["orders"]] == [ids[4], ids[2]] and buys["nextCursor"] == ids[2]
    rest = await page(f"side=BUY&limit=2&cursor={buys['nextCursor']}")
    assert [o["orderId"] for o in rest["orders"]] == [ids[0]] and rest["nextCursor"] is None
    sells = await page("side=SELL")
    assert [o["orderId"] for o in sells["orders"]] == [ids[3], ids[1]]
    created = [o["time"] for o in (await page("limit=10"))["orders"]]
    assert (await page(f"from={max(created) + 1}"))["orders"] == []
    assert len((await page(f"to={max(created) + 1}"))["orders"]) == 5
    for query, field in (("side=LONG", "side"), ("from=yesterday", "from"), ("from=10&to=5", "from")):
        resp = await client.get(f"/api/trading/orders?{query}", headers=auth(token))
        assert resp.status == 400 and (await resp.json())["field"] == field, query
