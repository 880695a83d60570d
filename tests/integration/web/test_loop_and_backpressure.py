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

from app.events import Balance, BalancesChanged
from app.messages import EventBatch, PriceTick
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
    mine = list(hub.by_user[stalled_user["id"]])  # a copy: the hub forgets the connection once it is closed
    i = 0
    async with asyncio.timeout(30):
        while not any(conn.closing for conn in mine):
            burst = [PriceTick(msg_id=f"b{i + k}", symbol="BTCUSDT", price=Decimal("1"), bid=Decimal("1"),
                               ask=Decimal("1"), ts=i + k, seq=i + k) for k in range(MAX_QUEUE + 10)]
            i += len(burst)
            hub.dispatch(burst)
            await asyncio.sleep(0.01)  # the loop writes out what the kernel still takes
        assert await _close_frame_code(stalled.ws) == 1013  # "try again later": reconnect and resync
    healthy.seen.clear()
    price = await healthy.wait_for(lambda m: m["type"] == "PRICE_UPDATE")
    assert price["symbol"] == "ETHUSDT"


async def _close_frame_code(ws: aiohttp.ClientWebSocketResponse) -> int:
    """The code of the server's close frame, read past the frames queued before it. (The client's own
    `close_code` may say 1006 instead: the server need not wait for the client's answer to its close.)"""
    while True:
        msg = await ws.receive()
        if msg.type is aiohttp.WSMsgType.CLOSE:
            return int(msg.data)
        assert msg.type is aiohttp.WSMsgType.TEXT, f"the socket ended without a close frame: {msg.type}"


def _balance(user_id: int, n: int) -> EventBatch:
    change = BalancesChanged(user_id, f"c{n}", (Balance("USDT", Decimal(n), Decimal(0)),))
    return EventBatch(msg_id=f"e{n}", events=[change])


def _tick(n: int) -> PriceTick:
    return PriceTick(msg_id=f"t{n}", symbol="BTCUSDT", price=Decimal(n), bid=Decimal(n), ask=Decimal(n), ts=n, seq=n)


async def test_a_users_own_frames_and_market_frames_arrive_in_the_order_they_were_dispatched(client: Any) -> None:
    # Market frames go straight to a socket that keeps up (through its queue once it falls behind, as
    # a burst this size makes it), a user's own through its queue: the browser sees the hub's order.
    token, user = await register(client)
    ws = await open_ws(client, token)
    await ws.send({"type": "subscribe", "symbols": ["BTCUSDT"]})
    await ws.wait_for(lambda m: m["type"] == "SUBSCRIPTIONS")
    ws.seen.clear()
    client.app[HUB].dispatch([m for n in range(1, 1001) for m in (_balance(user["id"], n), _tick(n))])
    await ws.wait_for(lambda m: m["type"] == "PRICE_UPDATE" and m["ts"] == 1000)
    got = [(m["balances"][0]["free"] if m["type"] == "BALANCE_UPDATE" else m["price"]) for m in ws.seen
           if m["type"] == "BALANCE_UPDATE" or (m["type"] == "PRICE_UPDATE" and m["ts"] <= 1000)]  # not the feed's
    assert got == [str(n) for n in range(1, 1001) for _ in range(2)]


async def test_a_client_that_stops_reading_its_own_frames_is_cut_off(client: Any) -> None:
    token, user = await register(client)
    stalled = await open_ws(client, token)
    hub = client.app[HUB]
    (conn,) = hub.by_user[user["id"]]
    hub.dispatch([_balance(user["id"], n) for n in range(MAX_QUEUE + 10)])  # more than its queue holds, at once
    assert conn.closing
    async with asyncio.timeout(30):
        assert await _close_frame_code(stalled.ws) == 1013  # "try again later": reconnect and resync
