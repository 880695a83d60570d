"""The same actors in two processes: a web node and an executor node sharing Redis and the database."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from app.persistence.models import Order
from tests.support.helpers import PASSWORD, SPLIT_ENV, ServerProcess, WsClient, auth, new_email
from tests.support.invariants import server_books

pytestmark = pytest.mark.crash


async def test_executors_in_their_own_process_survive_a_kill(tmp_path: Path) -> None:
    data = tmp_path / "data"
    web_node = ServerProcess(data, {"ROLE": "web", "NODE_NAME": "web-1", **SPLIT_ENV})
    executors = ServerProcess(data, {"ROLE": "executor", "NODE_NAME": "exec-1", **SPLIT_ENV})
    url = web_node.start()
    executors.start()
    async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=20)) as session:
        token = (await (await session.post("/auth/register", json={"email": new_email(),
                                                                   "password": PASSWORD})).json())["token"]
        ticket = (await (await session.post("/api/ws-ticket", headers=auth(token))).json())["ticket"]
        ws = WsClient(await session.ws_connect(f"/ws?ticket={ticket}"))
        await ws.wait_for(lambda m: m["type"] == "SNAPSHOT")
        actors = (await (await session.get("/readyz")).json())["actors"]
        assert set(actors) == {"price-feed", "broadcaster", "gateway"}  # no executor in the web node

        async def place(cid: str) -> int:
            resp = await session.post("/api/trading/orders", headers=auth(token), json={
                "symbol": "SOLUSDT", "side": "SELL", "type": "MARKET", "quantity": "1.000", "clientOrderId": cid})
            assert resp.status == 202
            return int((await resp.json())["orderId"])

        first = await place("split-1")
        await ws.order_status(first, {"FILLED"})
        executors.kill()
        queued = [await place(f"split-queued-{i}") for i in range(3)]  # accepted while no executor runs
        executors.start()
        for order_id in queued:
            await ws.order_status(order_id, {"FILLED"}, timeout=30)
    executors.stop()
    web_node.stop()
    with server_books(data):
        assert Order.select().where(Order.status == "FILLED").count() == 4


async def test_a_second_process_for_the_same_shard_refuses_to_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    web_node = ServerProcess(data, {"ROLE": "web", "NODE_NAME": "web-1", **SPLIT_ENV})
    first = ServerProcess(data, {"ROLE": "executor", "NODE_NAME": "exec-1", **SPLIT_ENV})
    second = ServerProcess(data, {"ROLE": "executor", "NODE_NAME": "exec-2", **SPLIT_ENV, "EXECUTOR_SHARD_IDS": "1"})
    web_node.start()
    first.start()
    with pytest.raises(RuntimeError, match="server exited"):
        second.start()
    assert "shard 1 is already run by node exec-1" in second.log_path.read_text()
    first.stop()
    second.start()  # released on a clean stop: the shard can move
    second.stop()
    web_node.stop()
