"""The CFD desk through the API and the real Executor: transfers, open, amend, triggers, ownership."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.domain import cfd
from app.domain.cfd import Direction
from tests.helpers import auth, dec, open_ws, register
from tests.web.test_stop_orders import Market


async def _spot_usdt(client: Any, token: str) -> Decimal:
    rows = (await (await client.get("/api/trading/balances", headers=auth(token))).json())["balances"]
    return dec(next(b["free"] for b in rows if b["asset"] == "USDT"))


async def _call(client: Any, method: str, path: str, token: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    resp = await client.request(method, path, json=body, headers=auth(token))
    return resp.status, await resp.json()


async def test_the_desk_end_to_end(client: Any) -> None:
    token, _ = await register(client)
    ws = await open_ws(client, token)
    market = Market(client)
    market.tick("65000")
    spot = await _spot_usdt(client, token)
    status, body = await _call(client, "POST", "/api/cfd/transfer", token, {"direction": "TO_MARGIN", "amount": "500"})
    assert status == 200 and body["balance"] == "1500", body  # 1000 granted on first use, then 500 moved
    assert await _spot_usdt(client, token) == spot - 500

    status, body = await _call(client, "POST", "/api/cfd/positions", token, {
        "symbol": "BTCUSDT", "direction": "LONG", "margin": "100", "leverage": "12.5",
        "stopLossPrice": "61000", "takeProfitPrice": "70000", "clientRequestId": "first-long"})
    assert status == 201, body
    pos = body["position"]
    entry, qty = Decimal(pos["entryPrice"]), Decimal(pos["quantity"])
    assert entry == Decimal("65000.5"), "a long opens at the ask"
    assert Decimal(pos["liquidationPrice"]) == cfd.liquidation_price(Direction.LONG, entry, qty, Decimal(100),
                                                                      Decimal("0.005"), Decimal("0.01"))
    again_status, again = await _call(client, "POST", "/api/cfd/positions", token, {
        "symbol": "BTCUSDT", "direction": "LONG", "margin": "100", "leverage": "12.5",
        "stopLossPrice": "61000", "takeProfitPrice": "70000", "clientRequestId": "first-long"})
    assert again_status == 200 and again["position"]["id"] == pos["id"], "a retry opens nothing more"

    status, body = await _call(client, "PATCH", f"/api/cfd/positions/{pos['id']}", token, {"stopLossPrice": "66000"})
    assert status == 400 and body["field"] == "stopLossPrice"
    status, body = await _call(client, "PATCH", f"/api/cfd/positions/{pos['id']}", token, {"stopLossPrice": "62000"})
    assert status == 200 and body["position"]["stopLossPrice"] == "62000"

    other, _ = await register(client)
    assert (await _call(client, "DELETE", f"/api/cfd/positions/{pos['id']}", other))[0] == 404
    assert (await _call(client, "GET", f"/api/cfd/positions/{pos['id']}", other))[0] == 404

    listed = (await _call(client, "GET", "/api/cfd/positions?status=open", token))[1]["positions"]
    assert [p["id"] for p in listed] == [pos["id"]] and "unrealizedPnl" in listed[0]

    market.tick("70001")  # the bid reaches the take-profit
    update = await ws.wait_for(lambda m: m.get("type") == "CFD_UPDATE" and m.get("event") == "TAKE_PROFIT")
    assert update["position"]["id"] == pos["id"] and Decimal(update["pnl"]) > 0
    closed = (await _call(client, "GET", "/api/cfd/positions?status=closed", token))[1]["positions"]
    assert closed[0]["status"] == "TAKE_PROFIT" and closed[0]["exitPrice"] == "70000.5"
    account = (await _call(client, "GET", "/api/cfd/account", token))[1]
    assert Decimal(account["balance"]) == Decimal(update["account"]["balance"]) > Decimal(1500)


async def test_liquidation_never_leaves_a_negative_balance_and_withdrawals_are_checked(client: Any) -> None:
    token, _ = await register(client)
    ws = await open_ws(client, token)
    market = Market(client)
    market.tick("65000")
    status, body = await _call(client, "POST", "/api/cfd/positions", token, {
        "symbol": "BTCUSDT", "direction": "SHORT", "margin": "900", "leverage": "100"})
    assert status == 201, body
    market.tick("80000")  # a gap far beyond the liquidation price
    event = await ws.wait_for(lambda m: m.get("type") == "CFD_UPDATE" and m.get("event") == "LIQUIDATED")
    assert event["payout"] == "0" and Decimal(event["account"]["balance"]) >= 0
    status, body = await _call(client, "POST", "/api/cfd/transfer", token, {"direction": "TO_SPOT", "amount": "1000"})
    assert status == 409 and "free margin" in body["detail"]
    balance = Decimal((await _call(client, "GET", "/api/cfd/account", token))[1]["balance"])
    spot = await _spot_usdt(client, token)
    status, body = await _call(client, "POST", "/api/cfd/transfer", token,
                               {"direction": "TO_SPOT", "amount": str(balance)})
    assert status == 200 and body["balance"] == "0"
    assert await _spot_usdt(client, token) == spot + balance


async def test_bad_desk_input_is_a_4xx(client: Any) -> None:
    token, _ = await register(client)
    Market(client).tick("65000")
    cases = [
        ("POST", "/api/cfd/positions", {"symbol": "BTCUSDT", "direction": "UP", "margin": "10", "leverage": "5"}),
        ("POST", "/api/cfd/positions", {"symbol": "BTCUSDT", "direction": "LONG", "margin": "10", "leverage": "0.5"}),
        ("POST", "/api/cfd/positions", {"symbol": "BTCUSDT", "direction": "LONG", "margin": "10", "leverage": "12.55"}),
        ("POST", "/api/cfd/positions", {"symbol": "NOPE", "direction": "LONG", "margin": "10", "leverage": "5"}),
        ("POST", "/api/cfd/positions", {"symbol": "BTCUSDT", "direction": "LONG", "margin": "99999", "leverage": "5"}),
        ("POST", "/api/cfd/transfer", {"direction": "TO_MARGIN", "amount": "1e9"}),
        ("POST", "/api/cfd/transfer", {"direction": "TO_MARGIN", "amount": "0.000000001"}),
        ("POST", "/api/cfd/transfer", {"direction": "TO_MARGIN", "amount": "999999"}),
        ("PATCH", "/api/cfd/positions/1", {}),
        ("DELETE", "/api/cfd/positions/abc", None),
        ("GET", "/api/cfd/positions?status=all", None),
    ]
    for method, path, body in cases:
        status, answer = await _call(client, method, path, token, body)
        assert 400 <= status < 500, (method, path, body, status, answer)
        assert "detail" in answer


async def test_live_pnl_is_pushed_at_the_rate_the_client_asked_for(client: Any) -> None:
    token, _ = await register(client)
    market = Market(client)
    market.tick("65000")
    status, body = await _call(client, "POST", "/api/cfd/positions", token, {
        "symbol": "BTCUSDT", "direction": "SHORT", "margin": "200", "leverage": "5"})
    assert status == 201, body
    entry, qty = Decimal(body["position"]["entryPrice"]), Decimal(body["position"]["quantity"])
    ws = await open_ws(client, token)
    assert [p["id"] for p in ws.seen[0]["cfdPositions"]] == [body["position"]["id"]]
    await ws.ws.send_json({"type": "subscribe", "symbols": ["BTCUSDT"], "cfdPnlMs": 0})
    await ws.wait_for(lambda m: m["type"] == "SUBSCRIPTIONS")
    market.tick("64000")  # a short gains: it closes at the ask, 64000.5
    pnl = await ws.wait_for(lambda m: m.get("type") == "CFD_UPDATE" and m.get("event") == "PNL"
                            and m["positions"][0]["markPrice"] == "64000.5")
    assert Decimal(pnl["positions"][0]["unrealizedPnl"]) == ((entry - Decimal("64000.5")) * qty).quantize(
        Decimal("0.00000001"))
    await ws.ws.send_json({"type": "subscribe", "symbols": ["BTCUSDT"], "cfdPnlMs": "fast"})
    error = await ws.wait_for(lambda m: m["type"] == "ERROR")
    assert "cfdPnlMs" in error["detail"]
