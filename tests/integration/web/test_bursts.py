"""A burst of requests larger than the shared Redis pool waits for connections instead of failing:
redis-py's default pool refused past 100 connections in use, and the web node answered 503."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from app.messaging.streams import POOL_SIZE


async def test_a_burst_beyond_the_redis_pool_is_served_not_refused(client: Any) -> None:
    base = str(client.make_url("/api/market/ticker"))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:  # all at once
        async def ticker() -> int:
            async with http.get(base, params={"symbol": "BTCUSDT"}) as resp:
                await resp.read()
                return int(resp.status)

        statuses = await asyncio.gather(*(ticker() for _ in range(3 * POOL_SIZE)))
    assert set(statuses) == {200}, sorted(set(statuses))
