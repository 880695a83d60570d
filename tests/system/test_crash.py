"""Kill a real Troupe process (SIGKILL) at named points; after a restart nothing is lost or doubled.

Each test runs the real server as a subprocess with the bundled Redis (AOF on) and a SQLite file,
exactly as `make run` does, places orders, lets TROUPE_FAULT kill it at one point, restarts it
without the fault, and checks the books.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis

from app.persistence.models import Fill, Order
from tests.support.helpers import PASSWORD, ServerProcess, auth, await_filled, new_email
from tests.support.invariants import server_books

pytestmark = pytest.mark.crash
ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}


async def _register(session: aiohttp.ClientSession) -> str:
    resp = await session.post("/auth/register", json={"email": new_email(), "password": PASSWORD})
    assert resp.status == 201
    return str((await resp.json())["token"])


async def _place(session: aiohttp.ClientSession, token: str, cid: str) -> tuple[int | None, dict[str, Any]]:
    """POST an order; a killed server shows up as a dropped connection (status None)."""
    try:
        resp = await session.post("/api/trading/orders", json={**ORDER, "clientOrderId": cid}, headers=auth(token))
        return resp.status, await resp.json()
    except (aiohttp.ClientError, TimeoutError):
        return None, {}


def _no_pending(data_dir: Path) -> None:
    """I7: every mailbox's pending list is empty once the work is done."""
    client = redis.Redis(unix_socket_path=str(data_dir / "redis" / "redis.sock"))
    for key in client.scan_iter("troupe:mbox:*"):
        for group in client.xinfo_groups(key):
            assert group["pending"] == 0, (key, group)
    client.close()


def _check_books(data_dir: Path, cids: list[str]) -> None:
    with server_books(data_dir):
        for cid in cids:
            orders = list(Order.select().where(Order.client_order_id == cid))
            assert len(orders) == 1, cid  # I5/I6: exactly one order per accepted command
            assert orders[0].status == "FILLED"
            assert orders[0].executed_qty == Decimal("0.001")
            assert Fill.select().where(Fill.order_id == orders[0].id).count() == orders[0].fill_count >= 1


@pytest.mark.parametrize("fault", [
    "gateway.after_commit",   # accepted (order row committed), not enqueued for the executor
    "gateway.after_send",     # enqueued and answered, not yet read by the executor
    "executor.inside_tx",     # inside the effect transaction, before commit
    "executor.after_commit",  # effect committed, not acked
    "executor.after_send",    # acked and events pushed, outbox rows not yet deleted (sent again at start)
])
async def test_kill_at_each_point_loses_nothing_and_doubles_nothing(tmp_path: Path, fault: str) -> None:
    server = ServerProcess(tmp_path / "data")
    url = server.start(fault=fault)
    async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=15)) as session:
        token = await _register(session)
        status, _ = await _place(session, token, "order-1")
        assert status in (None, 202)
    assert server.wait_dead() == -9  # the fault point really killed it

    url = server.start()
    async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=15)) as session:
        # The client retries with the same clientOrderId, as it must after a dropped answer.
        status, body = await _place(session, token, "order-1")
        assert status in (200, 202), body
        await await_filled(session, token, {body["orderId"]})
        _no_pending(server.data_dir)
    server.stop()
    _check_books(server.data_dir, ["order-1"])


async def test_kill_in_the_middle_of_a_stream_of_orders(tmp_path: Path) -> None:
    """Twenty orders in flight, the executor is killed after its third commit."""
    server = ServerProcess(tmp_path / "data")
    url = server.start(fault="executor.after_commit", fault_after=3)
    cids = [f"burst-{i}" for i in range(20)]
    accepted: dict[str, int] = {}
    async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=15)) as session:
        token = await _register(session)
        for cid in cids:
            status, body = await _place(session, token, cid)
            if status is None:
                break
            accepted[cid] = body["orderId"]
    server.wait_dead()
    url = server.start()
    async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=15)) as session:
        ids = set()
        for cid in cids:  # resend everything; accepted ones come back as the same order
            status, body = await _place(session, token, cid)
            assert status in (200, 202)
            if cid in accepted:
                assert body["orderId"] == accepted[cid]
            ids.add(body["orderId"])
        await await_filled(session, token, ids)
        _no_pending(server.data_dir)
    server.stop()
    _check_books(server.data_dir, cids)


async def test_orders_survive_a_redis_that_lost_everything(tmp_path: Path) -> None:
    """Accepted and durable in the database, but the Redis data is gone: start-up reconciliation
    re-enqueues every PENDING order."""
    server = ServerProcess(tmp_path / "data")
    url = server.start(fault="gateway.after_commit")
    async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=15)) as session:
        token = await _register(session)
        status, body = await _place(session, token, "lost-1")
    server.wait_dead()
    for f in (server.data_dir / "redis").glob("appendonly*"):
        f.unlink()  # Redis comes back empty
    url = server.start()
    async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=15)) as session:
        status, body = await _place(session, token, "lost-1")
        assert status in (200, 202)
        await await_filled(session, token, {body["orderId"]})
    server.stop()
    _check_books(server.data_dir, ["lost-1"])
