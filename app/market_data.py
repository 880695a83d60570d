"""The latest market data as the PriceFeed left it in Redis: ticks, marks, silent symbols, books, the tape.

Read by the API, the WebSocket and registration alike, so it lives here rather than in a views
module; it is given the process's `redis.asyncio` client, never the aiohttp application.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import redis.asyncio as aioredis

from app.domain.candles import Candle
from app.domain.symbols import SymbolSpec
from app.messages import PriceTick, decode
from app.messaging.names import Names


class MarketData:
    """Reads of the `prices` and `stale` hashes, limited to the symbols this node trades."""

    def __init__(self, redis: aioredis.Redis, names: Names, specs: Mapping[str, SymbolSpec]) -> None:
        self.redis, self.names, self.specs = redis, names, specs

    async def latest_ticks(self) -> dict[str, PriceTick]:
        out = {}
        for raw in (await self.redis.hgetall(self.names.prices)).values():
            tick = decode(raw)
            if isinstance(tick, PriceTick) and tick.symbol in self.specs:
                out[tick.symbol] = tick
        return out

    async def stale_since(self) -> dict[str, int]:
        """Symbols whose live feed is silent, with since when (ms)."""
        raw = await self.redis.hgetall(self.names.stale)
        return {k.decode(): int(v) for k, v in raw.items()}

    async def marks(self) -> dict[str, Decimal]:
        """Latest price per base asset (BTC, ETH, ...)."""
        return {self.specs[s].base: t.price for s, t in (await self.latest_ticks()).items()}

    async def depth(self, symbol: str, limit: int) -> dict[str, Any] | None:
        """The symbol's published book, `limit` levels a side (None: nothing published yet)."""
        raw = await self.redis.get(self.names.book(symbol))
        if raw is None:
            return None
        book = json.loads(raw)
        return {"lastUpdateId": book["lastUpdateId"], "bids": book["bids"][:limit], "asks": book["asks"][:limit]}

    async def trades(self, symbol: str, limit: int) -> list[dict[str, Any]]:
        """The latest `limit` prints of the tape, oldest first."""
        return [json.loads(raw) for raw in await self.redis.lrange(self.names.tape(symbol), -limit, -1)]

    async def candles(self, symbol: str, interval: str, count: int) -> list[Candle]:
        """The latest `count` candles of `interval`, oldest first (24 hourly ones make the 24 h ticker)."""
        raw = await self.redis.lrange(self.names.candles(symbol, interval), -count, -1)
        return [Candle.from_json(json.loads(c)) for c in raw]
