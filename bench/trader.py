"""A benchmark's trader: one account with its own WebSocket, whose terminal ORDER_UPDATE frames
(FILLED, REJECTED, EXPIRED) resolve the orders waiting for them. Shared by bench/order_path.py and
bench/order_latency.py; requests carry the bearer token, or (`use_api_key`) an API key's signature
as a bot would send them."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp

from app.api_keys import sign  # the one way a client computes a signature

TERMINAL = ("FILLED", "REJECTED", "EXPIRED")
Arrival = tuple[int, dict[str, Any]]  # monotonic ns the frame was read, and the frame


class Trader:
    def __init__(self, session: aiohttp.ClientSession, token: str) -> None:
        self.session = session
        self.headers = {"Authorization": f"Bearer {token}"}
        self.key: tuple[str, str] | None = None  # (apiKey, secretKey) after use_api_key
        self.waiting: dict[int, asyncio.Future[Arrival]] = {}
        self.early: dict[int, Arrival] = {}  # frames that beat their order's HTTP answer
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.reader: asyncio.Task[None] | None = None

    async def use_api_key(self) -> None:
        resp = await self.session.post("/api/account/api-keys", headers=self.headers,
                                       json={"label": "bench", "permissions": ["read", "trade"]})
        body = await resp.json()
        self.key = (body["apiKey"], body["secretKey"])

    async def post(self, path: str, body: dict[str, Any] | None) -> aiohttp.ClientResponse:
        """A POST with the bearer token, or signed with the API key; the caller reads and releases it."""
        data = b"" if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if self.key is None:
            return await self.session.post(path, data=data or None, headers={**headers, **self.headers})
        query = f"timestamp={int(time.time() * 1000)}"
        signature = sign(self.key[1], query.encode() + data)
        return await self.session.post(f"{path}?{query}&signature={signature}", data=data or None,
                                       headers={**headers, "X-MBX-APIKEY": self.key[0]})

    async def connect(self) -> None:
        resp = await self.post("/api/ws-ticket", None)
        ticket = (await resp.json())["ticket"]
        self.ws = await self.session.ws_connect(f"/ws?ticket={ticket}", max_msg_size=0)
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            if msg.type is not aiohttp.WSMsgType.TEXT or '"ORDER_UPDATE"' not in msg.data:
                continue
            at = time.monotonic_ns()
            data = json.loads(msg.data)
            if data["status"] not in TERMINAL:
                continue
            fut = self.waiting.pop(data["orderId"], None)
            if fut is None:
                self.early[data["orderId"]] = (at, data)
            elif not fut.done():
                fut.set_result((at, data))

    async def outcome(self, order_id: int, timeout_s: float) -> Arrival | None:
        """The order's terminal frame (when it was read, and the frame), or None past `timeout_s`."""
        got = self.early.pop(order_id, None)
        if got is not None:
            return got
        fut: asyncio.Future[Arrival] = asyncio.get_running_loop().create_future()
        self.waiting[order_id] = fut
        try:
            return await asyncio.wait_for(fut, timeout_s)
        except TimeoutError:
            self.waiting.pop(order_id, None)
            return None

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()
