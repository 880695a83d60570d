"""Binance-compatible route benchmark: market orders per second and answer latency through
`POST /api/v3/order` (newOrderRespType=FULL: the answer waits for the fill), next to Troupe's own
route (`POST /api/trading/orders`, 202, then the FILLED event on the user's WebSocket) in the same
run on the same server. Both are signed with the user's API key, as a bot sends them.

Prints progress to stderr and, as its last line on stdout, one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from app.api_keys import sign  # noqa: E402  (the one way a client computes a signature)
from bench.order_path import log, pct, start_server  # noqa: E402


class Bot:
    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self.headers: dict[str, str] = {}
        self.key = ("", "")
        self.waiting: dict[int, asyncio.Future[float]] = {}
        self.early: dict[int, float] = {}
        self.reader: asyncio.Task[None] | None = None

    async def open(self) -> None:
        resp = await self.session.post("/auth/register", json={"email": f"b{uuid.uuid4().hex[:12]}@example.com",
                                                               "password": "correct horse battery staple"})
        self.headers = {"Authorization": f"Bearer {(await resp.json())['token']}"}
        body = await (await self.session.post("/api/account/api-keys", headers=self.headers,
                                              json={"label": "bench", "permissions": ["read", "trade"]})).json()
        self.key = (body["apiKey"], body["secretKey"])
        ticket = (await (await self.session.post("/api/ws-ticket", headers=self.headers)).json())["ticket"]
        ws = await self.session.ws_connect(f"/ws?ticket={ticket}")
        self.reader = asyncio.create_task(self._read(ws))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT and '"ORDER_UPDATE"' in msg.data:
                data = json.loads(msg.data)
                if data["status"] in ("FILLED", "REJECTED", "EXPIRED"):
                    fut = self.waiting.pop(data["orderId"], None)
                    if fut is None:
                        self.early[data["orderId"]] = time.perf_counter()
                    elif not fut.done():
                        fut.set_result(time.perf_counter())

    def _signed(self, query: str, body: bytes = b"") -> tuple[str, dict[str, str]]:
        q = f"{query}&timestamp={int(time.time() * 1000)}" if query else f"timestamp={int(time.time() * 1000)}"
        return f"{q}&signature={sign(self.key[1], q.encode() + body)}", {"X-MBX-APIKEY": self.key[0]}

    async def binance_order(self, i: int) -> float:
        side = "BUY" if i % 2 == 0 else "SELL"
        query, headers = self._signed(f"symbol=BTCUSDT&side={side}&type=MARKET&quantity=0.001&newOrderRespType=FULL")
        start = time.perf_counter()
        resp = await self.session.post(f"/api/v3/order?{query}", headers=headers)
        body = await resp.json()
        if resp.status != 200 or body.get("status") != "FILLED":
            return -1.0
        return time.perf_counter() - start

    async def own_order(self, i: int) -> float:
        side = "BUY" if i % 2 == 0 else "SELL"
        data = json.dumps({"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": "0.001"}).encode()
        query, headers = self._signed("", data)
        start = time.perf_counter()
        resp = await self.session.post(f"/api/trading/orders?{query}", data=data,
                                       headers={**headers, "Content-Type": "application/json"})
        if resp.status != 202:
            return -1.0
        order_id = (await resp.json())["orderId"]
        if order_id in self.early:
            return self.early.pop(order_id) - start
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[order_id] = fut
        try:
            return await asyncio.wait_for(fut, 30) - start
        except TimeoutError:
            return -1.0


async def measure(bots: list[Bot], route: str, seconds: float, inflight: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def loop(bot: Bot, k: int) -> None:
        nonlocal errors
        i = k
        while time.perf_counter() < deadline:
            took = await (bot.binance_order(i) if route == "binance" else bot.own_order(i))
            i += 1
            if took < 0:
                errors += 1
            else:
                latencies.append(took)

    started = time.perf_counter()
    await asyncio.gather(*(loop(b, k) for b in bots for k in range(inflight)))
    elapsed = time.perf_counter() - started
    return {"orders_per_s": round(len(latencies) / elapsed, 1), "orders": len(latencies), "errors": errors,
            "p50_ms": round(pct(latencies, 0.50) * 1000, 2), "p99_ms": round(pct(latencies, 0.99) * 1000, 2)}


async def run(url: str, users: int, seconds: float, inflight: int) -> dict[str, Any]:
    async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=0)) as session:
        bots = [Bot(session) for _ in range(users)]
        for bot in bots:
            await bot.open()
        log(f"{users} bots ready; warming up")
        await measure(bots, "binance", 1, 1)
        await measure(bots, "own", 1, 1)
        binance = await measure(bots, "binance", seconds, inflight)
        log(f"binance route (FULL, answer = fill): {binance}")
        own = await measure(bots, "own", seconds, inflight)
        log(f"own route (202, then FILLED on the WebSocket): {own}")
        for bot in bots:
            if bot.reader:
                bot.reader.cancel()
    return {"bench": "binance_api", "users": users, "inflight_per_user": inflight, "seconds": seconds,
            "binance_full": binance, "troupe_own": own}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running Troupe (default: start one on a fresh DATA_DIR)")
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--inflight", type=int, default=2, help="orders in flight per user")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--shards", type=int, default=None, help="EXECUTOR_SHARDS (default: Troupe's own)")
    args = parser.parse_args()
    proc = None
    url = args.url
    if url is None:
        proc, url = start_server(Path(tempfile.mkdtemp(prefix="troupe-bench-")), args.shards)
    try:
        result = asyncio.run(run(url, args.users, args.seconds, args.inflight))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
