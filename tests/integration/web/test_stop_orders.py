"""Stop-loss, take-profit and trailing orders through the API and the real actors.

The test drives the market itself (`tests/support/scripted_market.py`).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.persistence.models import Order
from tests.support.helpers import WsClient, auth, dec, open_ws, register
from tests.support.scripted_market import Market


async def _trader_at(client: Any, price: str) -> tuple[str, WsClient, Market]:
    """A new user with a live WebSocket, and the market set to `price`."""
    token, _ = await register(client)
    ws = await open_ws(client, token)
    market = Market(client)
    market.tick(price)
    return token, ws, market


async def _order(client: Any, token: str, **fields: Any) -> tuple[int, dict[str, Any]]:
    resp = await client.post("/api/trading/orders", json={"symbol": "BTCUSDT", **fields}, headers=auth(token))
    return resp.status, await resp.json()


async def test_stop_loss_sell_fires_once_when_the_price_falls_to_it(client: Any) -> None:
    token, ws, market = await _trader_at(client, "65000")
    status, placed = await _order(client, token, side="SELL", type="STOP_LOSS", quantity="0.1", stopPrice="60000")
    assert status == 202
    new = await ws.order_status(placed["orderId"], {"NEW"})
    assert new["stopPrice"] == "60000" and new["triggered"] is False and new["orderType"] == "STOP_LOSS"
    balances = {b["asset"]: b for b in (await (await client.get("/api/trading/balances",
                                                               headers=auth(token))).json())["balances"]}
    assert dec(balances["BTC"]["locked"]) == Decimal("0.1")
    market.tick("61000")
    market.tick("59000")  # through the stop
    market.tick("59000", repeat=True)
    market.tick("58000")
    filled = await ws.order_status(placed["orderId"], {"FILLED"})
    assert filled["triggered"] is True and Decimal(filled["executedQty"]) == Decimal("0.1")
    assert Decimal(filled["fills"][0]["price"]) <= Decimal("59000"), "executed at the market after the gap"
    market.tick("57000")
    detail = await (await client.get(f"/api/trading/orders/{placed['orderId']}", headers=auth(token))).json()
    assert detail["status"] == "FILLED"
    fills = detail["fills"]
    assert sum(Decimal(f["qty"]) for f in fills) == Decimal("0.1"), "fired once"
    assert Order.get_by_id(placed["orderId"]).locked == 0


async def test_take_profit_limit_and_would_trigger_immediately(client: Any) -> None:
    token, ws, market = await _trader_at(client, "65000")
    _, wrong = await _order(client, token, side="SELL", type="TAKE_PROFIT", quantity="0.1", stopPrice="64000")
    rejected = await ws.order_status(wrong["orderId"], {"REJECTED"})
    assert rejected["rejectReason"] == "Order would trigger immediately."
    _, tp = await _order(client, token, side="SELL", type="TAKE_PROFIT_LIMIT", quantity="0.1", stopPrice="70000",
                         price="69900", timeInForce="GTC")
    await ws.order_status(tp["orderId"], {"NEW"})
    market.tick("70000")
    filled = await ws.order_status(tp["orderId"], {"FILLED"})
    assert filled["triggered"] is True and Decimal(filled["avgPrice"]) >= Decimal("69900")


async def test_trailing_stop_follows_the_high_and_cancel_releases_the_reservation(client: Any) -> None:
    token, ws, market = await _trader_at(client, "65000")
    _, trail = await _order(client, token, side="SELL", type="STOP_LOSS", quantity="0.1", trailingDelta=100)
    await ws.order_status(trail["orderId"], {"NEW"})
    market.tick("66000")
    await ws.wait_for(lambda m: m.get("orderId") == trail["orderId"] and m.get("status") == "NEW"
                      and m.get("version", 0) >= 2)
    assert Order.get_by_id(trail["orderId"]).trail_extreme == Decimal("66000")
    resp = await client.delete(f"/api/trading/orders/{trail['orderId']}", headers=auth(token))
    assert resp.status == 202
    await ws.order_status(trail["orderId"], {"CANCELED"})
    balances = {b["asset"]: b for b in (await (await client.get("/api/trading/balances",
                                                               headers=auth(token))).json())["balances"]}
    assert dec(balances["BTC"]["locked"]) == 0 and dec(balances["BTC"]["free"]) == Decimal("1")


async def test_bad_trigger_parameters_are_400s(client: Any) -> None:
    token, _ = await register(client)
    for fields, field in (({"type": "STOP_LOSS", "quantity": "0.1"}, None),
                          ({"type": "STOP_LOSS", "quantity": "0.1", "trailingDelta": "100"}, "trailingDelta"),
                          ({"type": "STOP_LOSS", "quantity": "0.1", "trailingDelta": 1.5}, "trailingDelta"),
                          ({"type": "LIMIT", "quantity": "0.1", "price": "1000", "stopPrice": "900"}, None)):
        status, body = await _order(client, token, side="SELL", **fields)
        assert status == 400, (fields, body)
        if field:
            assert body.get("field") == field


async def test_oco_exactly_one_leg_executes_and_the_list_cancels_together(client: Any) -> None:
    token, ws, market = await _trader_at(client, "65000")
    resp = await client.post("/api/trading/orderList/oco", headers=auth(token), json={
        "symbol": "BTCUSDT", "side": "SELL", "quantity": "0.1", "price": "70000", "stopPrice": "60000",
        "listClientOrderId": "exit-plan"})
    assert resp.status == 202, await resp.text()
    placed = await resp.json()
    tp_id, sl_id = (o["orderId"] for o in placed["orders"])
    assert placed["orderListId"] == tp_id and [o["type"] for o in placed["orders"]] == ["LIMIT_MAKER", "STOP_LOSS"]
    again = await client.post("/api/trading/orderList/oco", headers=auth(token), json={
        "symbol": "BTCUSDT", "side": "SELL", "quantity": "0.1", "price": "70000", "stopPrice": "60000",
        "listClientOrderId": "exit-plan"})
    assert again.status == 200 and (await again.json())["orderListId"] == tp_id, "the same list, not a second one"
    await ws.order_status(tp_id, {"NEW"})
    await ws.order_status(sl_id, {"NEW"})
    market.tick("59000")  # the stop fires: the take-profit expires, as on Binance
    filled = await ws.order_status(sl_id, {"FILLED"})
    expired = await ws.order_status(tp_id, {"EXPIRED"})
    assert filled["orderListId"] == expired["orderListId"] == tp_id
    market.tick("71000")  # the take-profit would have filled now; it is gone
    balances = {b["asset"]: b for b in (await (await client.get("/api/trading/balances",
                                                               headers=auth(token))).json())["balances"]}
    assert dec(balances["BTC"]["locked"]) == 0 and dec(balances["BTC"]["free"]) == Decimal("0.9")

    _, second = await _order_list(client, token)
    tp2, sl2 = (o["orderId"] for o in second["orders"])
    await ws.order_status(sl2, {"NEW"})
    assert (await client.delete(f"/api/trading/orders/{sl2}", headers=auth(token))).status == 202
    await ws.order_status(tp2, {"CANCELED"})
    await ws.order_status(sl2, {"CANCELED"})
    balances = {b["asset"]: b for b in (await (await client.get("/api/trading/balances",
                                                               headers=auth(token))).json())["balances"]}
    assert dec(balances["BTC"]["locked"]) == 0


async def _order_list(client: Any, token: str) -> tuple[int, dict[str, Any]]:
    resp = await client.post("/api/trading/orderList/oco", headers=auth(token), json={
        "symbol": "BTCUSDT", "side": "SELL", "quantity": "0.1", "price": "80000", "stopPrice": "50000"})
    return resp.status, await resp.json()


async def test_oco_bad_input_is_400(client: Any) -> None:
    token, _ = await register(client)
    for body in ({"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.1", "price": "60000", "stopPrice": "61000"},
                 {"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.1", "price": "70000"},
                 {"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.1", "price": None, "stopPrice": "61000"},
                 {"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.1", "price": "70000", "stopPrice": "60000",
                  "stopLimitTimeInForce": "GTC"},
                 {"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.1", "price": "70000", "stopPrice": "60000",
                  "listClientOrderId": "x" * 33}):
        resp = await client.post("/api/trading/orderList/oco", headers=auth(token), json=body)
        assert resp.status == 400, (body, await resp.text())
