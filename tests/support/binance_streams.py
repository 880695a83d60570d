"""Reading Binance market streams in tests: the next JSON frame, polling for a condition, and a local order
book kept by Binance's documented procedure (buffer, snapshot, drop u <= lastUpdateId, then U = u + 1)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import aiohttp
from aiohttp import WSMsgType

from app.money import to_str


async def next_json(ws: aiohttp.ClientWebSocketResponse, timeout: float = 10.0) -> Any:
    msg = await ws.receive(timeout=timeout)
    assert msg.type == WSMsgType.TEXT, (msg.type, msg.data, ws.close_code)
    return json.loads(msg.data)


async def wait_until(check: Callable[[], Awaitable[bool]], within_s: float = 15.0) -> None:
    """Poll `check` until it holds (a condition, not a timed guess)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not await check():
        assert loop.time() < deadline, "condition not reached in time"


class LocalBook:
    """A client's book from a depth snapshot and `depthUpdate` events, checked as Binance says to."""

    def __init__(self) -> None:
        self.update_id = -1
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}

    async def sync(self, ws: aiohttp.ClientWebSocketResponse, snapshot: Callable[[], Awaitable[Any]]) -> None:
        """Steps 2-7: buffer events, fetch the snapshot (again while it is older than the first event),
        drop what it covers, check the first event spans it, then apply the buffer."""
        buffered = [await next_json(ws)]
        while True:
            snap = await snapshot()
            if snap["lastUpdateId"] >= buffered[0]["U"]:
                break
            buffered.append(await next_json(ws))
        while buffered[-1]["u"] <= snap["lastUpdateId"]:
            buffered.append(await next_json(ws))
        buffered = [e for e in buffered if e["u"] > snap["lastUpdateId"]]
        assert buffered[0]["U"] <= snap["lastUpdateId"] + 1 <= buffered[0]["u"], (buffered[0], snap["lastUpdateId"])
        self.update_id = snap["lastUpdateId"]
        self.bids = {Decimal(p): Decimal(q) for p, q in snap["bids"]}
        self.asks = {Decimal(p): Decimal(q) for p, q in snap["asks"]}
        self.apply(buffered[0], spans=True)
        for event in buffered[1:]:
            self.apply(event)

    def apply(self, event: dict[str, Any], spans: bool = False) -> None:
        """The update procedure: an event the book already covers is ignored; otherwise its U must follow the
        book's id (the first one after the snapshot, `spans`, may start before it)."""
        assert event["e"] == "depthUpdate"
        if event["u"] <= self.update_id:
            return
        if not spans:
            assert event["U"] == self.update_id + 1, f"missed events: U={event['U']} after {self.update_id}"
        for side, levels in ((self.bids, event["b"]), (self.asks, event["a"])):
            for p, q in levels:
                if Decimal(q) == 0:
                    side.pop(Decimal(p), None)
                else:
                    side[Decimal(p)] = Decimal(q)
        self.update_id = event["u"]

    def as_depth(self) -> dict[str, Any]:
        """As GET /api/v3/depth shows it."""
        return {"lastUpdateId": self.update_id,
                "bids": [[to_str(p), to_str(q)] for p, q in sorted(self.bids.items(), reverse=True)],
                "asks": [[to_str(p), to_str(q)] for p, q in sorted(self.asks.items())]}
