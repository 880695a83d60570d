"""The latest market data as the PriceFeed left it in Redis: ticks, marks, silent symbols, books, the tape.

Read by the API, the WebSocket and registration alike, so it lives here rather than in a views
module; it is given the process's `redis.asyncio` client, never the aiohttp application.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any, TypeVar

import redis.asyncio as aioredis

from app.domain.candles import Candle
from app.domain.symbols import SymbolSpec
from app.messages import PriceTick, decode
from app.messaging.names import Names

T = TypeVar("T")


class MarketData:
    """Reads of the `prices` and `stale` hashes, limited to the symbols this node trades."""

    def __init__(self, redis: aioredis.Redis, names: Names, specs: Mapping[str, SymbolSpec]) -> None:
        self.redis, self.names, self.specs = redis, names, specs
        self._reading: dict[str, asyncio.Future[Any]] = {}

    async def _shared(self, key: str, read: Callable[[], Awaitable[T]]) -> T:
        """Callers that ask while the same read is in flight share it: a burst (5,000 sockets subscribing
        at once) makes one round trip instead of 5,000 that queue for the pool's connections. A caller
        that is cancelled never cancels the read for the others."""
        reading = self._reading.get(key)
        if reading is None:
            reading = self._reading[key] = asyncio.ensure_future(read())
            reading.add_done_callback(lambda done: self._done(key, done))
        result: T = await asyncio.shield(reading)
        return result

    def _done(self, key: str, reading: asyncio.Future[Any]) -> None:
        self._reading.pop(key, None)
        if not reading.cancelled():
            reading.exception()  # retrieved here too, in case every caller was cancelled meanwhile

    async def latest_ticks(self) -> dict[str, PriceTick]:
        return dict(await self._shared("prices", self._read_ticks))  # a copy: the read is shared

    async def _read_ticks(self) -> dict[str, PriceTick]:
        out = {}
        for raw in (await self.redis.hgetall(self.names.prices)).values():
            tick = decode(raw)
            if isinstance(tick, PriceTick) and tick.symbol in self.specs:
                out[tick.symbol] = tick
        return out

    async def stale_since(self) -> dict[str, int]:
        """Symbols whose live feed is silent, with since when (ms)."""
        return dict(await self._shared("stale", self._read_stale))

    async def _read_stale(self) -> dict[str, int]:
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
