"""Open-loop order latency: Poisson arrivals at fixed rates, request sent → FILLED on the user's WebSocket.

Arrivals never wait for answers (no coordinated omission): each order is sent at its scheduled
time on its own task, and its latency runs from that scheduled time (so a load generator that
falls behind counts against the figure, never in its favour) to the FILLED `ORDER_UPDATE` frame
on its user's own WebSocket. Every rate of `--rates` runs for `--seconds` after `--warmup`;
p50/p90/p99/p99.9/max come from all samples (sorted exactly, no histogram buckets).

In the same run the same sweep goes against `bench/floor.py`, a bare aiohttp process that checks
the JWT, parses the body, answers 202 and pushes one frame (no Redis, no database), so each figure
is also a ratio to the floor of this machine. The capacity is the highest offered rate whose p99
stays ≤ `--p99-limit-ms` (50) with no errors and the offered rate kept up; `--refine` bisects
between the last rate that passed and the first that failed.

Troupe is started with `TRACE_HOPS=1` (unless `--no-trace` or `--url`): each FILLED frame then
carries the order's hop stamps (app/hops.py) and the benchmark prints p50/p99 of every hop.
`DATABASE_URL` in the environment is passed to the server (the PostgreSQL sweep). `--split` runs
the executors in a process of their own beside the web node (ROLE=web + ROLE=executor, one Redis,
one database): the same code with its actors split across two interpreter locks.

Progress goes to stderr; the last line on stdout is one JSON object:
{"rates": [{"offered_per_s", "done_per_s", "p50_ms", "p99_ms", "p999_ms", "max_ms", "errors", ...}],
 "capacity_per_s", "floor": {"rates": [...], "capacity_per_s"}, "hops_ms": {hop: {"p50", "p99"}}}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
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
sys.path.insert(0, str(ROOT / "bench"))

from order_path import start_troupe  # noqa: E402

from app.hops import RECEIVED, SENT, percentile, summarise  # noqa: E402
from bench.trader import Trader  # noqa: E402

DRAIN_S = 15.0  # how long after a rate's last arrival its answers may still come


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of the server's processes so far (Linux /proc); a steadier figure than
    latency on a shared machine, since other tenants' load delays a process but does not add to its CPU time."""
    if not pids:
        return float("nan")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    print(f"[latency] {msg}", file=sys.stderr, flush=True)


Sample = tuple[float, dict[str, int] | None]  # seconds, and the hop trace if the frame carried one


class User(Trader):
    """One account with its own WebSocket; counts its orders to alternate sides."""

    def __init__(self, session: aiohttp.ClientSession, token: str) -> None:
        super().__init__(session, token)
        self.n = 0

    async def order(self, scheduled_ns: int) -> tuple[Sample | None, str]:
        self.n += 1
        body = {"symbol": "BTCUSDT", "side": "BUY" if self.n % 2 else "SELL", "type": "MARKET", "quantity": "0.001"}
        try:
            async with await self.post("/api/trading/orders", body) as resp:
                if resp.status != 202:
                    return None, f"http {resp.status}"
                order_id = (await resp.json())["orderId"]
        except aiohttp.ClientError as exc:
            return None, f"{type(exc).__name__}"
        got = await self.outcome(order_id, DRAIN_S)
        if got is None:
            return None, "no FILLED frame in time"
        at, data = got
        if data["status"] != "FILLED":
            return None, data["status"]
        trace = data.get("trace")
        if isinstance(trace, dict):
            trace = {**trace, SENT: scheduled_ns, RECEIVED: at}
        return ((at - scheduled_ns) / 1e9, trace), "ok"


async def make_users(session: aiohttp.ClientSession, n: int) -> list[User]:
    async def register() -> User:
        async with session.post("/auth/register", json={"email": f"l{uuid.uuid4().hex[:12]}@bench.test",
                                                        "password": "benchmark password"}) as resp:
            if resp.status != 201:
                raise SystemExit(f"registration failed: {resp.status} {await resp.text()}")
            return User(session, (await resp.json())["token"])
    users: list[User] = []
    for i in range(0, n, 10):  # a few at a time: bcrypt runs on a small pool
        users += await asyncio.gather(*(register() for _ in range(min(10, n - i))))
    await asyncio.gather(*(u.connect() for u in users))
    return users


async def one_rate(users: list[User], rate: float, seconds: float, warmup: float, rng: random.Random,
                   server_pids: list[int]) -> dict[str, Any]:
    """Poisson arrivals at `rate` for warmup + seconds; only arrivals after the warm-up are counted."""
    loop = asyncio.get_running_loop()
    samples: list[Sample] = []
    errors: dict[str, int] = {}
    tasks: set[asyncio.Task[None]] = set()
    start = time.monotonic_ns()
    measure_from = start + int(warmup * 1e9)
    end = measure_from + int(seconds * 1e9)
    lag_max = 0.0
    counted = 0

    async def one(user: User, scheduled: int, counts: bool) -> None:
        sample, outcome = await user.order(scheduled)
        if not counts:
            return
        if sample is not None:
            samples.append(sample)
        else:
            errors[outcome] = errors.get(outcome, 0) + 1

    next_at = start + int(rng.expovariate(rate) * 1e9)
    k = 0
    cpu_from: float | None = None
    while next_at < end:
        now = time.monotonic_ns()
        if next_at > now:
            await asyncio.sleep((next_at - now) / 1e9)
            now = time.monotonic_ns()
        while next_at <= now and next_at < end:  # late: send every due order at once, never skip one
            lag_max = max(lag_max, (now - next_at) / 1e9)
            counts = next_at >= measure_from
            if counts and cpu_from is None:
                cpu_from = cpu_seconds(server_pids)
            counted += counts
            task = loop.create_task(one(users[k % len(users)], next_at, counts))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            k += 1
            next_at += int(rng.expovariate(rate) * 1e9)
    if tasks:
        await asyncio.wait(set(tasks), timeout=DRAIN_S + 5)
    cpu = cpu_seconds(server_pids) - (cpu_from if cpu_from is not None else float("nan"))
    latencies = sorted(s for s, _ in samples)
    ms = [v * 1000 for v in latencies]
    result: dict[str, Any] = {
        "offered_per_s": rate,
        "done_per_s": round(len(samples) / seconds, 1),
        "p50_ms": round(percentile(ms, 0.50), 2),
        "p90_ms": round(percentile(ms, 0.90), 2),
        "p99_ms": round(percentile(ms, 0.99), 2),
        "p999_ms": round(percentile(ms, 0.999), 2),
        "max_ms": round(ms[-1], 2) if ms else float("nan"),
        "errors": counted - len(samples),  # refused, failed or unanswered
        "orders": len(samples),
        "generator_lag_max_ms": round(lag_max * 1000, 2),
    }
    if samples and not math.isnan(cpu):  # this run started the server
        result["server_cpu_ms_per_order"] = round(cpu * 1000 / len(samples), 3)
    if errors:
        result["error_kinds"] = errors
    traces = [t for _, t in samples if t is not None]
    if traces:
        result["hops_ms"] = summarise(traces)
    return result


def passes(r: dict[str, Any], limit_ms: float) -> bool:
    return r["errors"] == 0 and r["p99_ms"] <= limit_ms and r["done_per_s"] >= 0.95 * r["offered_per_s"]


async def sweep(url: str, args: argparse.Namespace, label: str) -> dict[str, Any]:
    rng = random.Random(args.seed)
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(url, connector=connector) as session:
        users = await make_users(session, args.users)
        results: list[dict[str, Any]] = []

        async def run(rate: float) -> dict[str, Any]:
            r = await one_rate(users, rate, args.seconds, args.warmup, rng, args.server_pids)
            log(f"{label} {rate:>7.0f}/s offered: done {r['done_per_s']}/s p50 {r['p50_ms']} ms "
                f"p99 {r['p99_ms']} ms p99.9 {r['p999_ms']} ms max {r['max_ms']} ms errors {r['errors']} "
                f"cpu/order {r.get('server_cpu_ms_per_order', '-')} ms")
            results.append(r)
            return r

        for rate in args.rate_list:
            r = await run(rate)
            if not passes(r, args.p99_limit_ms) and r["p99_ms"] > 4 * args.p99_limit_ms:
                break  # far beyond capacity: higher rates only pile up work
        ok = [r["offered_per_s"] for r in results if passes(r, args.p99_limit_ms)]
        best = max(ok, default=0.0)
        failed = [r["offered_per_s"] for r in results if r["offered_per_s"] > best]
        low, high = best, min(failed, default=0.0)
        for _ in range(args.refine if failed else 0):
            mid = round((low + high) / 2 / 10) * 10
            if mid <= low or mid >= high:
                break
            if passes(await run(mid), args.p99_limit_ms):
                low = mid
            else:
                high = mid
        for u in users:
            await u.close()
    results.sort(key=lambda r: r["offered_per_s"])
    return {"rates": results, "capacity_per_s": low}


def start_floor() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "floor.py")], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"the floor server did not start (exit status {proc.wait()})")
    return proc, json.loads(line)["url"]


def with_ratios(troupe: dict[str, Any], floor: dict[str, Any]) -> None:
    """Each Troupe figure as a multiple of the floor's at the same offered rate."""
    by_rate = {r["offered_per_s"]: r for r in floor["rates"]}
    for r in troupe["rates"]:
        f = by_rate.get(r["offered_per_s"])
        if f and f["p50_ms"] and f["p99_ms"]:
            r["vs_floor"] = {"p50": round(r["p50_ms"] / f["p50_ms"], 1), "p99": round(r["p99_ms"] / f["p99_ms"], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="measure a running server instead of starting one")
    parser.add_argument("--rates", default="100,200,400,800,1200,1500,2000", help="offered orders/s, in order")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per rate")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds per rate before measuring")
    parser.add_argument("--users", type=int, default=50, help="accounts, each with its own WebSocket")
    parser.add_argument("--shards", type=int, default=None, help="EXECUTOR_SHARDS (default: Troupe's own)")
    parser.add_argument("--split", action="store_true",
                        help="run the executors in a process of their own (ROLE=web + ROLE=executor)")
    parser.add_argument("--p99-limit-ms", type=float, default=50.0, help="the capacity's p99 bound")
    parser.add_argument("--refine", type=int, default=2, help="bisection steps of the capacity search")
    parser.add_argument("--hops-at", type=float, default=200.0, help="the offered rate whose hops are top-level")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--no-floor", action="store_true", help="skip the floor server")
    parser.add_argument("--no-trace", action="store_true", help="start Troupe without TRACE_HOPS")
    parser.add_argument("--quick", action="store_true", help="CI smoke: 5 users, 2 low rates, 2 s each")
    args = parser.parse_args()
    if args.quick:
        args.rates, args.seconds, args.warmup, args.users, args.refine = "50,100", 2.0, 0.5, 5, 0
    args.server_pids = []  # Troupe's processes when this run starts them: their CPU time is read per rate
    args.rate_list = [float(r) for r in args.rates.split(",") if r.strip()]
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    tmp = tempfile.TemporaryDirectory(prefix="troupe-latency-")
    procs: list[subprocess.Popen[str]] = []
    url = args.url
    if not url:
        if not args.no_trace:
            os.environ["TRACE_HOPS"] = "1"
        procs, url = start_troupe(Path(tmp.name), args.shards, args.split)
        args.server_pids = [p.pid for p in procs]
        log(f"started Troupe at {url} (DATA_DIR {tmp.name}, {args.shards or 'default'} shards, "
            f"{os.environ.get('DATABASE_URL') or 'SQLite'}, {len(procs)} process(es))")
    try:
        troupe = asyncio.run(sweep(url, args, "troupe"))
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(30)
        tmp.cleanup()
    floor: dict[str, Any] = {}
    if not args.no_floor:
        floor_proc, floor_url = start_floor()
        try:
            args.server_pids = [floor_proc.pid]
            floor = asyncio.run(sweep(floor_url, args, "floor "))
        finally:
            floor_proc.terminate()
            floor_proc.wait(30)
        with_ratios(troupe, floor)
    at = min(troupe["rates"], key=lambda r: abs(r["offered_per_s"] - args.hops_at), default={})
    result = {"rates": troupe["rates"], "capacity_per_s": troupe["capacity_per_s"], "floor": floor,
              "hops_ms": at.get("hops_ms", {}), "hops_at_per_s": at.get("offered_per_s"),
              "users": args.users, "seconds_per_rate": args.seconds, "processes": len(procs) or None}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
