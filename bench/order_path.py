"""Order-path benchmark: many users trading at once over HTTP + WebSocket.

Starts Troupe on a fresh DATA_DIR (or targets --url), registers users, opens one WebSocket per
user, and keeps --inflight market orders per user in flight for --seconds. Latency is measured
from the 202 answer to the FILLED event on the user's WebSocket. The ceiling is an authenticated
no-op POST answered by bench/ceiling.py, a bare aiohttp process that verifies the same kind of
JWT and parses the body as strictly as Troupe does, measured on this machine in the same run.

With `--auth apikey` every user's requests (orders and the WebSocket ticket) are signed with an
API key instead (X-MBX-APIKEY, timestamp, HMAC-SHA256 signature), as a bot would send them.

Prints progress to stderr and, as its last line on stdout, one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.trader import Trader  # noqa: E402


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


_COMPILED: list[bool] = []


def compile_sources() -> None:
    """Byte-compile Troupe's sources once, as an installed copy or the binary has them: a shell with
    PYTHONDONTWRITEBYTECODE=1 would otherwise make every server start compile them again, and the
    start-up figures would time the compiler."""
    if not _COMPILED:
        subprocess.run([sys.executable, "-m", "compileall", "-q", "-j", "0", "app", "actors", "web", "settings.py",
                        "run.py"], cwd=ROOT, check=True)
        _COMPILED.append(True)


def start_server(data_dir: Path, shards: int | None, role: str = "all") -> tuple[subprocess.Popen[str], str]:
    """A Troupe node on `data_dir`; `shards` None: Troupe's own default (what the data says)."""
    compile_sources()
    env = {**os.environ, "DATA_DIR": str(data_dir), "PORT": "0", "BCRYPT_ROUNDS": "4", "LOG_LEVEL": "WARNING",
           "ORDER_RATE_PER_S": "100000", "AUTH_RATE_PER_MIN": "100000",
           "STARTING_WALLET": "USDT=100000000,BTC=10000,ETH=10,SOL=100,BNB=10", "ROLE": role,
           "NODE_NAME": f"bench-{role}"}
    env.pop("EXECUTOR_SHARDS", None)
    if shards is not None:
        env["EXECUTOR_SHARDS"] = str(shards)
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py")], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=(data_dir / f"server-{role}.log").open("w"), text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "running" not in line:
        raise SystemExit(f"server did not start; see {data_dir / f'server-{role}.log'}")
    return proc, line.split("running at ", 1)[1].split()[0].rstrip("/") if "running at" in line else ""


def start_troupe(data_dir: Path, shards: int | None, split: bool) -> tuple[list[subprocess.Popen[str]], str]:
    """One node (ROLE=all), or with `split` a web node and an executor node on the same data: the
    processes (the web node first) and the URL."""
    web_proc, url = start_server(data_dir, shards, "web" if split else "all")
    procs = [web_proc]
    if split:
        procs.append(start_server(data_dir, shards, "executor")[0])
    return procs, url


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class User(Trader):
    async def order(self, i: int) -> tuple[float, str]:
        """Seconds from the 202 answer to the FILLED frame."""
        side = "BUY" if i % 2 == 0 else "SELL"
        body = {"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": "0.001"}
        resp = await self.post("/api/trading/orders", body)
        accepted = time.monotonic_ns()
        if resp.status != 202:
            return -1.0, f"http {resp.status}"
        order_id = (await resp.json())["orderId"]
        got = await self.outcome(order_id, 30)
        if got is None:
            return -1.0, "no FILLED event within 30 s"
        return max(0, got[0] - accepted) / 1e9, "ok"


def start_ceiling_server() -> tuple[subprocess.Popen[str], str, str]:
    """bench/ceiling.py in its own process (as Troupe is); returns it, its URL and a token it accepts."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "ceiling.py")], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"the ceiling server did not start (exit status {proc.wait()})")
    started = json.loads(line)
    return proc, started["url"], started["token"]


async def ceiling(seconds: float, concurrency: int) -> float:
    proc, url, token = start_ceiling_server()
    try:
        return await _noop_rate(url, token, seconds, concurrency)
    finally:
        proc.terminate()
        proc.wait(30)


async def _noop_rate(url: str, token: str, seconds: float, concurrency: int) -> float:
    headers = {"Authorization": f"Bearer {token}"}
    done = 0
    deadline = time.perf_counter() + seconds
    async with aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                async with session.post("/noop", json={"symbol": "BTCUSDT"}, headers=headers) as resp:
                    await resp.read()
                    done += resp.status == 200
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.perf_counter() - start)


async def run(args: argparse.Namespace, url: str) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=args.users * args.inflight + 10)
    async with aiohttp.ClientSession(url, connector=connector) as session:
        log(f"registering {args.users} users")

        async def register() -> User:
            resp = await session.post("/auth/register", json={"email": f"b{uuid.uuid4().hex[:10]}@bench.test",
                                                              "password": "benchmark password"})
            return User(session, (await resp.json())["token"])

        users = await asyncio.gather(*(register() for _ in range(args.users)))
        if args.auth == "apikey":
            await asyncio.gather(*(u.use_api_key() for u in users))
        await asyncio.gather(*(u.connect() for u in users))
        latencies: list[float] = []
        errors: dict[str, int] = {}
        count = 0
        log(f"warming up for {args.warmup}s, then measuring for {args.seconds}s "
            f"({args.users} users x {args.inflight} in flight)")
        start = time.perf_counter()
        measure_from = start + args.warmup
        deadline = measure_from + args.seconds

        async def loop(user: User, k: int) -> None:
            nonlocal count
            i = k
            while time.perf_counter() < deadline:
                latency, outcome = await user.order(i)
                i += 1
                if time.perf_counter() < measure_from:
                    continue
                if outcome == "ok":
                    latencies.append(latency)
                    count += 1
                else:
                    errors[outcome] = errors.get(outcome, 0) + 1

        async def progress() -> None:
            while time.perf_counter() < deadline:
                await asyncio.sleep(2)
                log(f"{count} orders filled so far")

        ticker = asyncio.create_task(progress())
        await asyncio.gather(*(loop(u, k) for u in users for k in range(args.inflight)))
        ticker.cancel()
        elapsed = time.perf_counter() - measure_from
    log("measuring the no-op ceiling")
    ceiling_rps = await ceiling(min(args.seconds, 5.0), args.users * args.inflight)
    return {
        "orders_per_s": round(count / elapsed, 1),
        "p50_ms": round(pct(latencies, 0.50) * 1000, 2),
        "p99_ms": round(pct(latencies, 0.99) * 1000, 2),
        "ceiling_rps": round(ceiling_rps, 1),
        "orders": count,
        "errors": errors,
        "users": args.users,
        "auth": args.auth,
        "inflight_per_user": args.inflight,
        "seconds": args.seconds,
        "mean_ms": round(statistics.fmean(latencies) * 1000, 2) if latencies else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="benchmark a running server instead of starting one")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--inflight", type=int, default=2, help="orders in flight per user")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--shards", type=int, default=None, help="EXECUTOR_SHARDS (default: Troupe's own)")
    parser.add_argument("--split", action="store_true",
                        help="run the executors in a second process (ROLE=web + ROLE=executor)")
    parser.add_argument("--auth", choices=("bearer", "apikey"), default="bearer",
                        help="authenticate orders with the bearer token, or sign them with an API key")
    args = parser.parse_args()
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    procs: list[subprocess.Popen[str]] = []
    url = args.url
    tmp = tempfile.TemporaryDirectory(prefix="troupe-bench-")
    if not url:
        procs, url = start_troupe(Path(tmp.name), args.shards, args.split)
        log(f"started Troupe at {url} (DATA_DIR {tmp.name}, {'two processes' if args.split else 'one process'})")
    try:
        result = asyncio.run(run(args, url))
        result["processes"] = len(procs) or None
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(30)
        tmp.cleanup()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
