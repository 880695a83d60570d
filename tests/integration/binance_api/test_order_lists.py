"""OCO order lists and cancel-replace through /api/v3, checked against Troupe's own API."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.integration.binance_api.test_errors import check, signed_query
from tests.support.helpers import auth, new_api_key, register


async def _setup(client: Any) -> tuple[str, dict[str, Any], Any]:
    token, _ = await register(client)
    key = await new_api_key(client, token, ["read", "trade"])

    async def call(method: str, path: str, query: str) -> tuple[int, Any]:
        resp = await client.request(method, f"{path}?{signed_query(key, query)}",
                                    headers={"X-MBX-APIKEY": key["apiKey"]})
        return resp.status, await resp.json()
    return token, key, call


async def _bid(client: Any) -> Decimal:
    return Decimal((await (await client.get("/api/market/ticker?symbol=BTCUSDT")).json())["bid"])


async def test_an_oco_is_placed_listed_and_canceled_like_on_binance(client: Any) -> None:
    token, key, call = await _setup(client)
    await call("POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01000")
    bid = await _bid(client)
    above, below = (bid * Decimal("1.5")).quantize(Decimal("0.01")), (bid * Decimal("0.5")).quantize(Decimal("0.01"))
    status, placed = await call("POST", "/api/v3/orderList/oco",
                                f"symbol=BTCUSDT&side=SELL&quantity=0.01000&listClientOrderId=bot-oco-1"
                                f"&aboveType=LIMIT_MAKER&abovePrice={above}&belowType=STOP_LOSS"
                                f"&belowStopPrice={below}&newOrderRespType=RESULT")
    assert status == 200, placed
    assert (placed["contingencyType"], placed["listStatusType"], placed["listOrderStatus"],
            placed["listClientOrderId"]) == ("OCO", "EXEC_STARTED", "EXECUTING", "bot-oco-1")
    own = {o["orderId"]: o for o in (await (await client.get("/api/trading/orders?status=OPEN",
                                                             headers=auth(token))).json())["orders"]}
    assert {o["orderId"] for o in placed["orders"]} == set(own)
    for report in placed["orderReports"]:
        assert (report["type"], report["status"], report["origQty"]) == \
            (own[report["orderId"]]["type"], own[report["orderId"]]["status"], "0.01")
        assert own[report["orderId"]]["apiKeyId"] == key["id"]
    status, listed = await call("GET", "/api/v3/orderList", "origClientOrderId=bot-oco-1")
    assert status == 200 and listed["orderListId"] == placed["orderListId"]
    status, open_lists = await call("GET", "/api/v3/openOrderList", "")
    assert [lst["orderListId"] for lst in open_lists] == [placed["orderListId"]]
    status, canceled = await call("DELETE", "/api/v3/orderList", f"symbol=BTCUSDT&orderListId={placed['orderListId']}")
    assert status == 200, canceled
    assert canceled["listStatusType"] == "ALL_DONE" and {r["status"] for r in canceled["orderReports"]} == {"CANCELED"}
    assert (await call("GET", "/api/v3/openOrderList", ""))[1] == []
    check(*(await call("DELETE", "/api/v3/orderList", f"symbol=BTCUSDT&orderListId={placed['orderListId']}")),
          400, -2011)
    check(*(await call("POST", "/api/v3/orderList/oco", f"symbol=BTCUSDT&side=SELL&quantity=0.01&aboveType=LIMIT"
                       f"&abovePrice={above}&belowType=STOP_LOSS&belowStopPrice={below}")), 400, -1158)
    check(*(await call("POST", "/api/v3/orderList/oco", f"symbol=BTCUSDT&side=SELL&quantity=0.01"
                       f"&aboveType=LIMIT_MAKER&abovePrice={below}&belowType=STOP_LOSS&belowStopPrice={above}")),
          400, -2010)


async def test_cancel_replace_answers_each_outcome_as_binance(client: Any) -> None:
    token, _, call = await _setup(client)
    low = (await _bid(client) * Decimal("0.5")).quantize(Decimal("0.01"))
    _, first = await call("POST", "/api/v3/order",
                          f"symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price={low}")
    status, replaced = await call("POST", "/api/v3/order/cancelReplace",
                                  f"symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.002&price={low}"
                                  f"&cancelReplaceMode=STOP_ON_FAILURE&cancelOrderId={first['orderId']}")
    assert status == 200, replaced
    assert (replaced["cancelResult"], replaced["newOrderResult"]) == ("SUCCESS", "SUCCESS")
    assert replaced["cancelResponse"]["status"] == "CANCELED" and replaced["newOrderResponse"]["origQty"] == "0.002"
    own = await (await client.get(f"/api/trading/orders/{first['orderId']}", headers=auth(token))).json()
    assert own["status"] == "CANCELED"
    status, failed = await call("POST", "/api/v3/order/cancelReplace",
                                f"symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.002&price={low}"
                                f"&cancelReplaceMode=STOP_ON_FAILURE&cancelOrderId={first['orderId']}")
    assert (status, failed["code"], failed["msg"]) == (400, -2022, "Order cancel-replace failed.")
    assert failed["data"] == {"cancelResult": "FAILURE", "newOrderResult": "NOT_ATTEMPTED",
                              "cancelResponse": {"code": -2011, "msg": "Unknown order sent."}, "newOrderResponse": None}
    status, partly = await call("POST", "/api/v3/order/cancelReplace",
                                f"symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.002&price={low}"
                                f"&cancelReplaceMode=ALLOW_FAILURE&cancelOrderId={first['orderId']}")
    assert (status, partly["code"], partly["msg"]) == (409, -2021, "Order cancel-replace partially failed.")
    assert (partly["data"]["cancelResult"], partly["data"]["newOrderResult"]) == ("FAILURE", "SUCCESS")
