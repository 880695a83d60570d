"""Per user: WebSocket tickets are rate-limited and open WebSockets are capped, with a 429 problem."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from tests.support.helpers import auth, open_ws, register
from web.app_keys import REDIS, RUNTIME, WS_SLOTS


async def _ticket(client: Any, token: str) -> aiohttp.ClientResponse:
    return await client.post("/api/ws-ticket", headers=auth(token))


async def test_tickets_per_user_are_rate_limited(client: Any) -> None:
    token, _ = await register(client)
    other, _ = await register(client)
    statuses = [(await _ticket(client, token)).status for _ in range(61)]  # WS_TICKETS_PER_MIN: 60
    assert statuses == [200] * 60 + [429]
    refused = await _ticket(client, token)
    body = await refused.json()
    assert refused.content_type == "application/problem+json" and body["code"] == "TOO_MANY_REQUESTS"
    assert int(refused.headers["Retry-After"]) >= 1 and "ticket" in body["detail"]
    assert (await _ticket(client, other)).status == 200  # a budget of its own


async def _connect(client: Any, token: str) -> aiohttp.ClientWebSocketResponse:
    ticket = (await (await _ticket(client, token)).json())["ticket"]
    return await client.ws_connect(f"/ws?ticket={ticket}")


async def test_open_websockets_per_user_are_capped_before_the_upgrade(client: Any) -> None:
    token, user = await register(client)
    sockets = [await open_ws(client, token) for _ in range(20)]  # WS_MAX_PER_USER: 20
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await _connect(client, token)
    assert refused.value.status == 429
    other, _ = await register(client)
    await (await open_ws(client, other)).close()  # another user is not affected
    await sockets.pop().close()
    key = client.app[RUNTIME].names.ws_sockets(user["id"])
    deadline = asyncio.get_running_loop().time() + 10
    while await client.app[REDIS].zcard(key) > 19:  # the server gives the slot back once it sees the close
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.02)
    sockets.append(await open_ws(client, token))
    for ws in sockets:
        await ws.close()


async def test_sockets_of_a_node_that_died_stop_counting_when_their_lease_ends(make_client: Any) -> None:
    client = await make_client(ws_max_per_user=2)
    token, user = await register(client)
    key = client.app[RUNTIME].names.ws_sockets(user["id"])
    await client.app[REDIS].zadd(key, {"dead-node:1": 1, "dead-node:2": 2})  # leases that ended long ago
    sockets = [await open_ws(client, token) for _ in range(2)]
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await _connect(client, token)
    assert refused.value.status == 429
    members = await client.app[REDIS].zrange(key, 0, -1, withscores=True)
    assert len(members) == 2 and not any(m.startswith(b"dead-node") for m, _ in members)
    await client.app[WS_SLOTS].renew()  # what the node does every LEASE_S / 3
    renewed = await client.app[REDIS].zrange(key, 0, -1, withscores=True)
    assert {m for m, _ in renewed} == {m for m, _ in members}
    assert min(score for _, score in renewed) >= max(score for _, score in members)
    for ws in sockets:
        await ws.close()
