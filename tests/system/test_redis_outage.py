"""Scenario 8: Redis stops answering for a while. Requests fail cleanly (503, never a trace), the
server recovers by itself when Redis is back, and a retried order executes exactly once."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import aiohttp
import pytest

from app.persistence.models import Order
from tests.support.helpers import PASSWORD, ServerProcess, auth, await_filled, new_email
from tests.support.invariants import server_books

pytestmark = pytest.mark.crash
ORDER = {"symbol": "ETHUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01", "clientOrderId": "during-outage"}


async def test_orders_during_a_redis_pause_fail_cleanly_and_retry_exactly_once(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data")
    url = server.start()
    redis_pid = int((server.data_dir / "redis" / "redis.pid").read_text())
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(url, timeout=timeout) as session:
        resp = await session.post("/auth/register", json={"email": new_email(), "password": PASSWORD})
        token = (await resp.json())["token"]
        os.kill(redis_pid, signal.SIGSTOP)
        try:
            during = await session.post("/api/trading/orders", json=ORDER, headers=auth(token))
            assert during.status == 503, await during.text()
            body = await during.json()
            assert body["detail"] and "Traceback" not in str(body)
            assert (await session.get("/readyz")).status == 503
            assert (await session.get("/healthz")).status == 200
        finally:
            os.kill(redis_pid, signal.SIGCONT)
        retry = await session.post("/api/trading/orders", json=ORDER, headers=auth(token))
        assert retry.status in (200, 202), await retry.text()
        await await_filled(session, token, {(await retry.json())["orderId"]})
        assert (await session.get("/readyz")).status == 200
    server.stop()
    with server_books(server.data_dir):
        assert Order.select().where(Order.client_order_id == "during-outage").count() == 1
