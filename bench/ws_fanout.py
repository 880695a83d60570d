"""WebSocket fan-out: many clients on one symbol through Troupe's real `/ws`, next to a bare aiohttp loop.

Troupe is started with a fast feed (`--tick-ms`) and very high ticket and per-user socket limits;
`--clients` sockets (tickets, subscribe to BTCUSDT) read `PRICE_UPDATE` frames. Per tick, the
last client's delay is its arrival minus the tick's `ts` (the PriceFeed's wall-clock ms, so a
figure has millisecond grain); the benchmark prints deliveries per second and the p50/p99 of that
last-client delay. In the same run a bare aiohttp process (`--serve-bare`, this file) ticks as
often as Troupe's feed did and sends each frame with a sequential `await ws.send_str` loop over
its sockets: the same two frames per tick as Troupe sends a subscriber (`PRICE_UPDATE`, then the
candle's `CANDLE_UPDATE`), so both deliver the same bytes.

Then one client stops reading (its socket stays open) and the others are measured again: nobody
else's delay should move (Troupe gives each socket its own bounded queue and sender).

The load generator shares the machine (and its cores) with the server: on a small machine it is
the generator that limits first, so say what `--clients` was. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from order_latency import cpu_seconds  # noqa: E402
from order_path import start_server  # noqa: E402

from app.hops import percentile  # noqa: E402


def log(msg: str) -> None:
    print(f"[fanout] {msg}", file=sys.stderr, flush=True)


# --- the bare server ---------------------------------------------------------------------------

async def serve_bare(tick_ms: int) -> None:
    sockets: list[web.WebSocketResponse] = []

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for _ in ws:  # the first message subscribes, as on Troupe
            if ws not in sockets:
                sockets.append(ws)
        if ws in sockets:
            sockets.remove(ws)
        return ws

    async def ticker() -> None:
        price = 67000
        while True:
            await asyncio.sleep(tick_ms / 1000)
            price += 1
            now = int(time.time() * 1000)
            frame = json.dumps({"type": "PRICE_UPDATE", "symbol": "BTCUSDT", "price": str(price),
                                "bid": str(price - 1), "ask": str(price + 1), "ts": now}, separators=(",", ":"))
            candle = json.dumps({"type": "CANDLE_UPDATE", "symbol": "BTCUSDT", "interval": "1m", "candle": {
                "time": now // 60_000 * 60, "open": str(price), "high": str(price), "low": str(price),
                "close": str(price), "volume": "0"}}, separators=(",", ":"))
            for ws in list(sockets):  # the sequential loop: one slow socket delays everyone after it
                if not ws.closed:
                    await ws.send_str(frame)
                    await ws.send_str(candle)

    app = web.Application()
    app.router.add_get("/ws", ws_handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(json.dumps({"url": f"http://127.0.0.1:{runner.addresses[0][1]}"}), flush=True)
    task = asyncio.create_task(ticker())
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    task.cancel()
    await runner.cleanup()


# --- the clients -------------------------------------------------------------------------------

class Recorder:
    """Arrivals per tick: how many clients got it and when the last one did."""

    def __init__(self) -> None:
        self.measuring = False
        self.last: dict[int, float] = {}
        self.count = 0

    def got(self, ts: int, at: float) -> None:
        if not self.measuring:
            return
        self.count += 1
        if at > self.last.get(ts, 0.0):
            self.last[ts] = at

    def phase(self, seconds: float) -> dict[str, Any]:
        delays = sorted((at - ts / 1000) * 1000 for ts, at in self.last.items())
        return {"deliveries_per_s": round(self.count / seconds, 1), "ticks": len(delays),
                "last_client_p50_ms": round(percentile(delays, 0.5), 2),
                "last_client_p99_ms": round(percentile(delays, 0.99), 2)}


async def reader(ws: aiohttp.ClientWebSocketResponse, current: list[Recorder]) -> None:
    async for msg in ws:
        if msg.type is aiohttp.WSMsgType.TEXT and '"PRICE_UPDATE"' in msg.data:
            at = time.time()
            data = json.loads(msg.data)
            if data.get("symbol") == "BTCUSDT":
                current[0].got(int(data["ts"]), at)


async def measure(tasks: list[asyncio.Task[None]], current: list[Recorder], seconds: float,
                  warmup: float, server_pid: int) -> dict[str, Any]:
    """Phase 1: everyone reads. Phase 2: the first client stops reading; the others are measured.
    The readers run from the moment each socket opened, as a real client's do: a socket nobody reads
    cannot answer the server's heartbeat pings and is closed by it (opening 5,000 takes longer than one
    heartbeat), which would count as frames Troupe never delivered."""
    rec = current[0] = Recorder()
    await asyncio.sleep(warmup)
    rec.measuring = True
    cpu = cpu_seconds([server_pid])
    await asyncio.sleep(seconds)
    rec.measuring = False
    all_reading = rec.phase(seconds)
    delivered = all_reading["deliveries_per_s"] * seconds
    all_reading["server_cpu_us_per_delivery"] = (round((cpu_seconds([server_pid]) - cpu) / delivered * 1e6, 2)
                                                 if delivered else None)
    tasks[0].cancel()  # one client stops reading; its socket stays open
    slow = current[0] = Recorder()
    await asyncio.sleep(warmup)
    slow.measuring = True
    await asyncio.sleep(seconds)
    slow.measuring = False
    one_stalled = slow.phase(seconds)
    still_open = 1 + sum(not t.done() for t in tasks[1:])  # a reader ends when its socket is closed
    for t in tasks:
        t.cancel()
    p1, p2 = all_reading["last_client_p99_ms"], one_stalled["last_client_p99_ms"]
    return {"all_reading": all_reading, "one_stopped_reading": one_stalled, "sockets_still_open": still_open,
            "others_p99_moved_pct": round((p2 - p1) / p1 * 100, 1) if p1 else None}


async def troupe_sockets(session: aiohttp.ClientSession, n: int,
                         current: list[Recorder]) -> list[asyncio.Task[None]]:
    async with session.post("/auth/register", json={"email": f"f{uuid.uuid4().hex[:12]}@bench.test",
                                                    "password": "benchmark password"}) as resp:
        token = (await resp.json())["token"]
    headers = {"Authorization": f"Bearer {token}"}
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    readers: list[asyncio.Task[None]] = []

    async def one() -> None:
        async with session.post("/api/ws-ticket", headers=headers) as resp:
            ticket = (await resp.json())["ticket"]
        ws = await session.ws_connect(f"/ws?ticket={ticket}", max_msg_size=0)
        await ws.receive()  # the SNAPSHOT
        sockets.append(ws)
        readers.append(asyncio.create_task(reader(ws, current)))

    for i in range(0, n, 100):
        await asyncio.gather(*(one() for _ in range(min(100, n - i))))
    await subscribe(sockets)
    return readers


async def subscribe(sockets: list[aiohttp.ClientWebSocketResponse]) -> None:
    """Everyone subscribes once all are open: opening thousands while the first ones already read
    frames would starve the opening (one load-generator process)."""
    frame = json.dumps({"type": "subscribe", "symbols": ["BTCUSDT"]})
    await asyncio.gather(*(ws.send_str(frame) for ws in sockets))


async def bare_sockets(session: aiohttp.ClientSession, n: int, current: list[Recorder]) -> list[asyncio.Task[None]]:
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    for i in range(0, n, 100):
        sockets += await asyncio.gather(*(session.ws_connect("/ws", max_msg_size=0) for _ in range(min(100, n - i))))
    readers = [asyncio.create_task(reader(ws, current)) for ws in sockets]
    await subscribe(sockets)
    return readers


async def run_one(url: str, args: argparse.Namespace, troupe: bool, server_pid: int) -> dict[str, Any]:
    async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=0)) as session:
        current = [Recorder()]
        opened = troupe_sockets if troupe else bare_sockets
        readers = await opened(session, args.clients, current)
        log(f"{'troupe' if troupe else 'bare'}: {len(readers)} sockets open; measuring")
        result = await measure(readers, current, args.seconds, args.warmup, server_pid)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--tick-ms", type=int, default=50, help="the feed's tick interval (Troupe's minimum: 20)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--quick", action="store_true", help="CI smoke: 20 clients, 2 s phases")
    parser.add_argument("--serve-bare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    if args.serve_bare:
        asyncio.run(serve_bare(args.tick_ms))
        return
    if args.quick:
        args.clients, args.seconds, args.warmup = 20, 2.0, 1.0
    tmp = tempfile.TemporaryDirectory(prefix="troupe-fanout-")
    os.environ.update({"TICK_INTERVAL_MS": str(args.tick_ms), "WS_MAX_PER_USER": str(args.clients + 10),
                       "WS_TICKETS_PER_MIN": str(max(1000, args.clients * 2))})
    proc, url = start_server(Path(tmp.name), 2)
    try:
        troupe = asyncio.run(run_one(url, args, troupe=True, server_pid=proc.pid))
    finally:
        proc.terminate()
        proc.wait(30)
        tmp.cleanup()
    # The bare loop ticks as often as Troupe's feed really did (its walk may skip a symbol's tick).
    ticks_per_s = troupe["all_reading"]["ticks"] / args.seconds
    bare_ms = max(1, round(1000 / ticks_per_s)) if ticks_per_s else args.tick_ms
    bare_proc = subprocess.Popen([sys.executable, __file__, "--serve-bare", "--tick-ms", str(bare_ms)],
                                 cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert bare_proc.stdout is not None
    bare_url = json.loads(bare_proc.stdout.readline())["url"]
    try:
        bare = asyncio.run(run_one(bare_url, args, troupe=False, server_pid=bare_proc.pid))
    finally:
        bare_proc.terminate()
        bare_proc.wait(30)
    t, b = troupe["all_reading"], bare["all_reading"]
    result = {"clients": args.clients, "tick_ms": args.tick_ms, "bare_tick_ms": bare_ms, "troupe": troupe, "bare": bare,
              "deliveries_vs_bare_pct": round(t["deliveries_per_s"] / b["deliveries_per_s"] * 100, 1)
              if b["deliveries_per_s"] else None}
    log(f"troupe {t}  bare {b}")
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
