"""Graceful shutdown under load, and log hygiene, on a real server process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from app.persistence.models import Order
from tests.support.helpers import PASSWORD, ServerProcess, WsClient, auth, new_email
from tests.support.invariants import server_books

pytestmark = pytest.mark.crash


async def test_sigterm_under_load_exits_cleanly_and_loses_nothing(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", {"LOG_LEVEL": "DEBUG"})
    url = server.start()
    api_key, secret = "K" * 20 + "9876", "Z" * 64
    accepted: dict[str, int] = {}
    async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=20)) as session:
        resp = await session.post("/auth/register", json={"email": new_email(), "password": PASSWORD,
                                                          "binanceApiKey": api_key, "binanceSecretKey": secret})
        token = (await resp.json())["token"]
        ticket = (await (await session.post("/api/ws-ticket", headers=auth(token))).json())["ticket"]
        await (await session.ws_connect(f"/ws?ticket={ticket}")).close()

        first_accepted = asyncio.Event()

        async def place(i: int) -> None:
            try:
                r = await session.post("/api/trading/orders", headers=auth(token), json={
                    "symbol": "BNBUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.100",
                    "clientOrderId": f"term-{i}"})
                if r.status == 202:
                    accepted[f"term-{i}"] = (await r.json())["orderId"]
                    first_accepted.set()
            except aiohttp.ClientError:
                pass  # the server went away mid-request: not accepted from the client's point of view

        load = [asyncio.create_task(place(i)) for i in range(40)]
        await first_accepted.wait()  # SIGTERM while the other requests are in flight
        code = await asyncio.get_running_loop().run_in_executor(None, server.stop)
        await asyncio.gather(*load)
    assert code == 0  # a clean exit, not a crash
    url = server.start()
    async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=20)) as session:
        ticket = (await (await session.post("/api/ws-ticket", headers=auth(token))).json())["ticket"]
        ws = WsClient(await session.ws_connect(f"/ws?ticket={ticket}"))
        snap = await ws.wait_for(lambda m: m["type"] == "SNAPSHOT")
        done = {o["orderId"] for o in snap["recentOrders"] if o["status"] == "FILLED"}
        pending = set(accepted.values()) - done
        for order_id in pending:
            await ws.order_status(order_id, {"FILLED"}, timeout=30)
    server.stop()
    log = "".join(p.read_text() for p in server.data_dir.glob("server-*.log"))
    for leaked in (secret, api_key, PASSWORD, token, ticket):
        assert leaked not in log  # secrets, passwords, tokens and tickets never reach the logs
    with server_books(server.data_dir):
        for cid, order_id in accepted.items():
            order = Order.get(Order.client_order_id == cid)
            assert order.id == order_id and order.status == "FILLED"
