"""Failures the supervisor must handle, on a real server process."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
import redis

from app.persistence.models import Order
from tests.support.helpers import PASSWORD, ServerProcess, WsClient, auth, await_filled, new_email
from tests.support.invariants import server_books

pytestmark = pytest.mark.crash


async def _user(session: aiohttp.ClientSession) -> str:
    resp = await session.post("/auth/register", json={"email": new_email(), "password": PASSWORD})
    return str((await resp.json())["token"])


async def test_system_exit_in_an_actor_makes_the_process_exit_non_zero(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data")
    url = server.start(fault="executor.after_commit", fault_mode="exit")
    async with aiohttp.ClientSession(url) as session:
        token = await _user(session)
        resp = await session.post("/api/trading/orders", headers=auth(token),
                                  json={"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"})
        assert resp.status == 202
    assert server.wait_dead() == 1  # no server keeps accepting orders that nobody executes
    assert "giving up" in server.log_path.read_text() or "SystemExit" in server.log_path.read_text()


async def test_a_poison_command_is_dead_lettered_and_its_order_rejected(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data")
    url = server.start(fault="executor.command", fault_mode="raise")
    async with aiohttp.ClientSession(url) as session:
        token = await _user(session)
        ticket = (await (await session.post("/api/ws-ticket", headers=auth(token))).json())["ticket"]
        ws = WsClient(await session.ws_connect(f"/ws?ticket={ticket}"))
        await ws.wait_for(lambda m: m["type"] == "SNAPSHOT")
        resp = await session.post("/api/trading/orders", headers=auth(token),
                                  json={"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01",
                                        "price": "1000"})
        assert resp.status == 202, await resp.text()
        order_id = (await resp.json())["orderId"]
        rejected = await ws.order_status(order_id, {"REJECTED", "NEW"}, timeout=60)
        assert rejected["status"] == "REJECTED" and "internal error" in rejected["rejectReason"]
        balances = await (await session.get("/api/trading/balances", headers=auth(token))).json()
        usdt = next(b for b in balances["balances"] if b["asset"] == "USDT")
        assert (Decimal(usdt["free"]), Decimal(usdt["locked"])) == (Decimal(10000), Decimal(0))
        ready = await session.get("/readyz")
        assert ready.status == 200  # one bad message does not take the service down
        client = redis.Redis(unix_socket_path=str(server.data_dir / "redis" / "redis.sock"))
        parked = client.xrange("troupe:dlq")
        assert len(parked) == 1 and b"SubmitOrder" in parked[0][1][b"m"]
        client.close()
    server.stop()
    with server_books(server.data_dir):
        assert Order.get_by_id(order_id).status == "REJECTED"


async def test_a_poison_command_at_the_gateway_does_not_hold_up_the_others(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", {"TROUPE_FAULT_KEY": "poison"})
    url = server.start(fault="gateway.command", fault_mode="raise")
    async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=30)) as session:
        token = await _user(session)

        async def place(cid: str) -> tuple[int, dict[str, str]]:
            resp = await session.post("/api/trading/orders", headers=auth(token), json={
                "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "1000",
                "clientOrderId": cid})
            return resp.status, await resp.json()

        (bad_status, bad), *good = await asyncio.gather(place("poison-1"), *(place(f"good-{i}") for i in range(5)))
        assert [status for status, _ in good] == [202] * 5
        assert bad_status == 503 and "nothing was stored" in bad["detail"]
    server.stop()
    with server_books(server.data_dir, allow_pending=True):
        assert Order.select().where(Order.client_order_id == "poison-1").count() == 0
        assert Order.select().where(Order.client_order_id.startswith("good-")).count() == 5


async def test_an_actor_stuck_for_good_does_not_keep_a_stopped_server_alive(tmp_path: Path) -> None:
    """SIGTERM while the Gateway hangs in a call that never returns: the process still exits (non-zero, saying
    which actor it left behind), and the order the Gateway had committed is executed once after a restart."""
    server = ServerProcess(tmp_path / "data")
    url = server.start(fault="gateway.after_commit", fault_mode="hang")
    async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=30)) as session:
        token = await _user(session)
        resp = await session.post("/api/trading/orders", headers=auth(token), json={
            "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001", "clientOrderId": "stuck-1"})
        assert resp.status == 503  # the Gateway committed the order, then never answered
        assert "stuck-1" in (await resp.json())["detail"]
    code = await asyncio.get_running_loop().run_in_executor(None, server.stop)
    assert code == 1
    assert "gateway did not stop within 15s" in server.log_path.read_text()

    url = server.start()
    async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=30)) as session:
        resp = await session.post("/api/trading/orders", headers=auth(token), json={
            "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001", "clientOrderId": "stuck-1"})
        assert resp.status == 200  # the order it already has under that clientOrderId, not a second one
        await await_filled(session, token, {(await resp.json())["orderId"]})
    server.stop()
    with server_books(server.data_dir):
        assert [o.status for o in Order.select().where(Order.client_order_id == "stuck-1")] == ["FILLED"]
