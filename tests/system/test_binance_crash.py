"""EXCHANGE=binance with a real Troupe process killed (SIGKILL) around the call to Binance.

`binance.before_send`: the order is marked as sent, then the process dies before the request leaves.
`binance.after_send`: Binance executed the order, then the process died before recording the answer.
After a restart each order is FILLED exactly once in Troupe and exists exactly once at the fake.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import aiohttp
import pytest

from tests.support.fakes.binance import FakeBinance
from tests.support.helpers import PASSWORD, ServerProcess, auth, await_filled, new_email

pytestmark = pytest.mark.crash


@pytest.mark.parametrize("point", ["binance.before_send", "binance.after_send"])
async def test_killed_around_the_exchange_call_orders_exactly_once(fake: FakeBinance, tmp_path: Path,
                                                                    point: str) -> None:
    env = {"EXCHANGE": "binance", "BINANCE_API_URL": fake.url, "BINANCE_RECV_WINDOW_MS": "1000",
           "BINANCE_POLL_MS": "100", "BINANCE_TIMEOUT_S": "2"}
    server = ServerProcess(tmp_path / "data", env=env)
    loop = asyncio.get_running_loop()
    cid = f"crash-{uuid.uuid4().hex[:8]}"
    url = await loop.run_in_executor(None, lambda: server.start(fault=point, fault_mode="kill"))
    key, secret = "K" + uuid.uuid4().hex * 2, "S" + uuid.uuid4().hex * 2
    fake.add_account(key, secret, {"USDT": "10000", "BTC": "1"})
    try:
        async with aiohttp.ClientSession(url) as session:
            resp = await session.post("/auth/register", json={"email": new_email(), "password": PASSWORD,
                                                              "binanceApiKey": key, "binanceSecretKey": secret})
            token = (await resp.json())["token"]
            resp = await session.post("/api/trading/orders", headers=auth(token), json={
                "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01", "clientOrderId": cid})
            assert resp.status == 202
            order_id = (await resp.json())["orderId"]
        code = await loop.run_in_executor(None, server.wait_dead)
        assert code == -9, "the fault point killed the server"
        assert len(fake.orders_with(cid)) == (1 if point == "binance.after_send" else 0)

        url = await loop.run_in_executor(None, server.start)
        async with aiohttp.ClientSession(url) as session:
            await await_filled(session, token, {order_id}, timeout=30)
            order = await (await session.get(f"/api/trading/orders/{order_id}", headers=auth(token))).json()
            assert order["status"] == "FILLED" and len(order["fills"]) == 1
        assert len(fake.orders_with(cid)) == 1
    finally:
        await loop.run_in_executor(None, server.stop)
