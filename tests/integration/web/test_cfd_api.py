"""The CFD desk through the API and the real Executor: transfers, open, amend, triggers, ownership,
and retries (only a command that took effect is remembered; a refused one is evaluated again)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from app.cfd import rules
from app.cfd.rules import Direction
from tests.integration.web.test_binance_feed import _app as binance_fed_app
from tests.integration.web.test_stop_orders import Market
from tests.support.fakes.binance import FakeBinance
from tests.support.helpers import auth, dec, open_ws, register
from web.app_keys import SETTINGS


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
    assert Decimal(pos["liquidationPrice"]) == rules.liquidation_price(Direction.LONG, entry, qty, Decimal(100),
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


LONG = {"symbol": "BTCUSDT", "direction": "LONG", "margin": "100", "leverage": "10"}


async def _open_positions(client: Any, token: str) -> list[dict[str, Any]]:
    return (await _call(client, "GET", "/api/cfd/positions?status=open", token))[1]["positions"]


async def test_a_close_of_a_position_that_did_not_exist_yet_never_blocks_closing_it(client: Any) -> None:
    token, _ = await register(client)
    Market(client).tick("65000")
    status, body = await _call(client, "POST", "/api/cfd/positions", token, LONG)
    assert status == 201, body
    # Ids are predictable: this shard's next position is the last one plus the number of shards.
    next_id = body["position"]["id"] + client.server.app[SETTINGS].executor_shards
    for _ in range(3):
        status, body = await _call(client, "DELETE", f"/api/cfd/positions/{next_id}", token)
        assert status == 404 and body["code"] == "NOT_OPEN", body
    status, body = await _call(client, "POST", "/api/cfd/positions", token, LONG)
    assert status == 201 and body["position"]["id"] == next_id, body
    status, body = await _call(client, "DELETE", f"/api/cfd/positions/{next_id}", token)
    assert status == 200 and body["event"] == "CLOSED" and body["position"]["id"] == next_id, body
    status, again = await _call(client, "DELETE", f"/api/cfd/positions/{next_id}", token)
    assert status == 200 and again["position"]["status"] == "CLOSED", "a repeated close answers with what it did"
    assert next_id not in [p["id"] for p in await _open_positions(client, token)]


async def test_a_request_refused_for_lack_of_funds_is_evaluated_again_when_repeated(client: Any) -> None:
    token, _ = await register(client)
    Market(client).tick("65000")
    big = {**LONG, "margin": "3000", "leverage": "2", "clientRequestId": "big-long"}
    for _ in range(2):
        status, body = await _call(client, "POST", "/api/cfd/positions", token, big)
        assert status == 409 and body["code"] == "NO_FUNDS", body
    assert await _open_positions(client, token) == []
    status, body = await _call(client, "POST", "/api/cfd/transfer", token, {"direction": "TO_MARGIN", "amount": "2500"})
    assert status == 200 and body["balance"] == "3500", body  # nothing of the refusals stayed
    status, body = await _call(client, "POST", "/api/cfd/positions", token, big)
    assert status == 201 and body["position"]["margin"] == "3000", body
    status, again = await _call(client, "POST", "/api/cfd/positions", token, big)
    assert status == 200 and again["position"]["id"] == body["position"]["id"]
    assert [p["id"] for p in await _open_positions(client, token)] == [body["position"]["id"]]


async def test_the_same_client_request_id_with_a_different_body_is_a_conflict(client: Any) -> None:
    token, _ = await register(client)
    Market(client).tick("65000")
    status, opened = await _call(client, "POST", "/api/cfd/positions", token, {**LONG, "clientRequestId": "r-1"})
    assert status == 201, opened
    status, body = await _call(client, "POST", "/api/cfd/positions", token,
                               {**LONG, "margin": "200", "clientRequestId": "r-1"})
    assert status == 409 and body["code"] == "DUPLICATE_CLIENT_REQUEST_ID" and body["field"] == "clientRequestId"
    status, body = await _call(client, "POST", "/api/cfd/positions", token, {**LONG, "margin": "100.0",
                                                                              "clientRequestId": "r-1"})
    assert status == 200 and body["position"]["id"] == opened["position"]["id"], "the same amount, written otherwise"
    assert len(await _open_positions(client, token)) == 1

    status, moved = await _call(client, "POST", "/api/cfd/transfer", token,
                                {"direction": "TO_MARGIN", "amount": "10", "clientRequestId": "t-1"})
    assert status == 200, moved
    for different in ({"direction": "TO_MARGIN", "amount": "20"}, {"direction": "TO_SPOT", "amount": "10"}):
        status, body = await _call(client, "POST", "/api/cfd/transfer", token, {**different, "clientRequestId": "t-1"})
        assert status == 409 and body["code"] == "DUPLICATE_CLIENT_REQUEST_ID", (different, body)
    status, body = await _call(client, "POST", "/api/cfd/transfer", token,
                               {"direction": "TO_MARGIN", "amount": "10", "clientRequestId": "t-1"})
    assert status == 200 and body["amount"] == "10" and body["balance"] == moved["balance"], body
    assert (await _call(client, "GET", "/api/cfd/account", token))[1]["balance"] == moved["balance"]


async def test_anyone_but_the_owner_always_gets_404_and_the_position_stays(client: Any) -> None:
    owner, _ = await register(client)
    Market(client).tick("65000")
    status, body = await _call(client, "POST", "/api/cfd/positions", owner, LONG)
    assert status == 201, body
    pid = body["position"]["id"]
    other, _ = await register(client)
    for _ in range(2):
        status, answer = await _call(client, "DELETE", f"/api/cfd/positions/{pid}", other)
        assert status == 404 and "balance" not in answer, answer
        status, answer = await _call(client, "PATCH", f"/api/cfd/positions/{pid}", other, {"stopLossPrice": "60000"})
        assert status == 404, answer
    status, mine = await _call(client, "GET", f"/api/cfd/positions/{pid}", owner)
    assert mine["status"] == "OPEN" and mine["stopLossPrice"] is None and mine["version"] == 0, mine
    status, body = await _call(client, "DELETE", f"/api/cfd/positions/{pid}", owner)
    assert status == 200 and body["event"] == "CLOSED", body


@pytest.fixture
async def binance_fed(aiohttp_client: Any, tmp_path: Path, sqlite_url: str, redis_url: str,
                      fake: FakeBinance) -> AsyncIterator[Any]:
    """Prices from the fake Binance stream: no symbol has a price before the test sends a trade."""
    async for c in binance_fed_app(aiohttp_client, tmp_path, sqlite_url, redis_url, fake, 60_000):
        yield c


async def test_an_open_refused_for_want_of_a_price_opens_when_retried_once_there_is_one(
        binance_fed: Any, fake: FakeBinance) -> None:
    client = binance_fed
    token, _ = await register(client)
    ws = await open_ws(client, token)
    await ws.send({"type": "subscribe", "symbols": ["BTCUSDT"]})
    await ws.wait_for(lambda m: m["type"] == "SUBSCRIPTIONS")
    await fake.stream_connected.wait()
    request = {**LONG, "clientRequestId": "before-the-price"}
    for _ in range(2):
        status, body = await _call(client, "POST", "/api/cfd/positions", token, request)
        assert status == 503 and body["code"] == "NO_PRICE", body
    await fake.push_book("BTCUSDT", "50000", "50000.5")
    await fake.push_trade("BTCUSDT", "50000.25")
    await ws.wait_for(lambda m: m.get("type") == "PRICE_UPDATE" and m["symbol"] == "BTCUSDT")
    status, body = await _call(client, "POST", "/api/cfd/positions", token, request)
    assert status == 201 and body["position"]["entryPrice"] == "50000.5", body
    assert [p["id"] for p in await _open_positions(client, token)] == [body["position"]["id"]]


async def test_concurrent_transfers_never_move_more_than_the_spot_wallet_holds(client: Any) -> None:
    """Thirty at once, most of them in one Executor batch: two fit in the wallet, a third does not."""
    token, _ = await register(client)
    spot = await _spot_usdt(client, token)
    amount = spot * 4 // 10
    answers = await asyncio.gather(*(_call(client, "POST", "/api/cfd/transfer", token,
                                           {"direction": "TO_MARGIN", "amount": str(amount)}) for _ in range(30)))
    assert sorted(status for status, _ in answers) == [200] * 2 + [409] * 28, answers
    assert await _spot_usdt(client, token) == spot - 2 * amount
    status, body = await _call(client, "POST", "/api/cfd/transfer", token, {"direction": "TO_SPOT", "amount": "1"})
    assert status == 200, body
