"""Two web processes on one Redis share every limit: a budget spent on one is spent on the other."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.helpers import ServerProcess, auth, new_email, register
from web.app_keys import SETTINGS

JWT_SECRET = "a shared secret of at least thirty-two bytes"
MASTER_KEY = "ab" * 32
WRONG = "not the password at all"
Pair = Callable[..., Awaitable[tuple[Any, aiohttp.ClientSession]]]


@pytest.fixture
async def two_nodes(make_client: Any, tmp_path: Path) -> AsyncIterator[Pair]:
    """`await two_nodes(AUTH_RATE_PER_MIN="3")`: node A in this process, node B (ROLE=web) in another,
    both on the same Redis, key prefix and database, with the same limits."""
    peers: list[ServerProcess] = []
    sessions: list[aiohttp.ClientSession] = []

    async def start(**env: str) -> tuple[Any, aiohttp.ClientSession]:
        a = await make_client(jwt_secret=JWT_SECRET, master_key=MASTER_KEY,
                              **{k.lower(): int(v) for k, v in env.items()})
        s = a.app[SETTINGS]
        b = ServerProcess(tmp_path / "node-b", {
            "ROLE": "web", "NODE_NAME": "node-b", "REDIS_URL": s.redis_url, "STREAM_PREFIX": s.stream_prefix,
            "DATABASE_URL": s.database_url, "JWT_SECRET": JWT_SECRET, "MASTER_KEY": MASTER_KEY, **env})
        peers.append(b)
        sessions.append(aiohttp.ClientSession(await asyncio.to_thread(b.start)))
        return a, sessions[-1]

    yield start
    for session in sessions:
        await session.close()
    for peer in peers:
        await asyncio.to_thread(peer.stop)


async def test_the_login_budget_of_an_address_is_shared_by_every_process(two_nodes: Pair) -> None:
    a, b = await two_nodes(AUTH_RATE_PER_MIN="3")

    async def login(node: Any) -> int:
        async with node.post("/auth/login", json={"email": new_email(), "password": WRONG}) as resp:
            return resp.status

    assert [await login(a), await login(b), await login(a)] == [401, 401, 401]
    assert [await login(b), await login(a)] == [429, 429]


async def test_ticket_and_websocket_caps_are_shared_by_every_process(two_nodes: Pair) -> None:
    a, b = await two_nodes(WS_TICKETS_PER_MIN="3", WS_MAX_PER_USER="1")
    token, _ = await register(a)

    async def ticket(node: Any) -> str:
        async with node.post("/api/ws-ticket", headers=auth(token)) as resp:
            assert resp.status == 200, await resp.text()
            return str((await resp.json())["ticket"])

    socket = await a.ws_connect(f"/ws?ticket={await ticket(a)}")
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:  # the user's one socket is open on A
        await b.ws_connect(f"/ws?ticket={await ticket(b)}")
    assert refused.value.status == 429
    await ticket(a)
    async with b.post("/api/ws-ticket", headers=auth(token)) as resp:  # the fourth ticket in a minute
        assert resp.status == 429
    await socket.close()
