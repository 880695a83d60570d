"""Blocking work stays off the event loop, and one stalled browser never holds up the others."""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal
from typing import Any

import aiohttp
import bcrypt
import peewee
import pytest
import redis

from app.messages import PriceTick
from tests.support.helpers import PASSWORD, auth, new_email, open_ws, register
from web.app_keys import HUB
from web.ws_hub import MAX_QUEUE


async def test_blocking_work_never_runs_on_the_event_loop(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """bcrypt, SQL and synchronous Redis calls run in worker and actor threads only (scenario 34).

    Checked by where they run, not by how long anything takes: the blocking libraries' entry
    points are wrapped to record the calling thread during a burst of sign-ups, logins and orders.
    """
    loop_thread = threading.current_thread()
    on_loop: list[str] = []

    def watch(owner: Any, name: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if threading.current_thread() is loop_thread:
                on_loop.append(f"{owner.__name__}.{name}")
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapper)

    for owner, name in ((bcrypt, "hashpw"), (bcrypt, "checkpw"), (peewee.Database, "execute_sql"),
                        (redis.Redis, "execute_command")):
        watch(owner, name)
    emails = [new_email() for _ in range(8)]
    tokens = [t for t, _ in await asyncio.gather(*(register(client, e) for e in emails))]
    logins = [client.post("/auth/login", json={"email": e, "password": PASSWORD}) for e in emails]
    orders = [client.post("/api/trading/orders", headers=auth(t), json={
        "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}) for t in tokens]
    reads = [client.get("/api/trading/orders", headers=auth(t)) for t in tokens]
    responses = await asyncio.gather(*logins, *orders, *reads)
    assert {r.status for r in responses} <= {200, 202}
    assert on_loop == []


async def test_a_client_that_stops_reading_is_cut_off_and_others_carry_on(client: Any) -> None:
    stalled_token, stalled_user = await register(client)
    healthy_token, _ = await register(client)
    stalled = await open_ws(client, stalled_token)
    healthy = await open_ws(client, healthy_token)
    await stalled.send({"type": "subscribe", "symbols": ["BTCUSDT"]})
    await stalled.wait_for(lambda m: m["type"] == "SUBSCRIPTIONS")
    await healthy.send({"type": "subscribe", "symbols": ["ETHUSDT"]})
    await healthy.wait_for(lambda m: m["type"] == "SUBSCRIPTIONS")
    # The stalled client reads nothing from here on. Shared frames go straight to its socket while the
    # kernel takes them; once its buffers are full they wait in the connection's queue, and a burst
    # bigger than that queue overflows it: the server cuts the socket off.
    hub = client.app[HUB]
    mine = hub.by_user[stalled_user["id"]]
    i = 0
    async with asyncio.timeout(30):
        while not any(conn.closing for conn in mine):
            burst = [PriceTick(msg_id=f"b{i + k}", symbol="BTCUSDT", price=Decimal("1"), bid=Decimal("1"),
                               ask=Decimal("1"), ts=i + k, seq=i + k) for k in range(MAX_QUEUE + 10)]
            i += len(burst)
            hub.dispatch(burst)
            await asyncio.sleep(0.01)  # the loop writes out what the kernel still takes
        while True:
            msg = await stalled.ws.receive()
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
    assert stalled.ws.close_code == 1013  # "try again later": reconnect and resync
    healthy.seen.clear()
    price = await healthy.wait_for(lambda m: m["type"] == "PRICE_UPDATE")
    assert price["symbol"] == "ETHUSDT"
