"""CPU per call of the Redis client, for the calls the order path makes.

Each order crosses about a dozen redis-py calls (the rate limit, the mailbox writes and reads, the
acks, the events and the answer), all on one interpreter lock, so the client's own Python per call
is part of every order's latency. This times, in CPU seconds of this process (not wall time, which
the server's round trip dominates): a synchronous pipeline of XADD + XACK (what an actor sends after
its commit), an asyncio pipeline of one XADD (the web node's command) and an asyncio EVALSHA (the
rate limit's script). It runs against a bundled redis-server it starts, or `--url`.

Last line: one JSON object {"redis_py": version, "sync_pipeline_us", "async_pipeline_us", "async_evalsha_us", "calls"}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import redis
import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.embedded_redis import EmbeddedRedis  # noqa: E402

STREAM = "bench:redis-client"
PAYLOAD = b"x" * 300  # about a command's encoded size


def per_call_us(calls: int, started: float) -> float:
    """CPU µs per call of `calls` calls made since `started` (time.process_time())."""
    return (time.process_time() - started) / calls * 1e6


def sync_pipeline(url: str, calls: int) -> float:
    client = redis.Redis.from_url(url)
    client.delete(STREAM)  # a stream left by an interrupted run against --url
    client.xgroup_create(STREAM, "g", id="0", mkstream=True)

    def run() -> None:
        for _ in range(calls):
            pipe = client.pipeline(transaction=False)
            pipe.xadd(STREAM, {"m": PAYLOAD}, maxlen=1000, approximate=True)
            pipe.xack(STREAM, "g", "0-1")
            pipe.execute()
    run()  # warm: connection, imports
    try:
        started = time.process_time()
        run()
        return per_call_us(calls, started)
    finally:
        client.delete(STREAM)
        client.close()


async def async_calls(url: str, calls: int) -> tuple[float, float]:
    client = aioredis.Redis.from_url(url)
    script = client.register_script("return redis.call('INCR', KEYS[1])")

    async def pipelines() -> None:
        for _ in range(calls):
            pipe = client.pipeline(transaction=False)
            pipe.xadd(STREAM, {"m": PAYLOAD}, maxlen=1000, approximate=True)
            await pipe.execute()

    async def scripts() -> None:
        for _ in range(calls):
            await script(keys=["bench:redis-client:n"])

    out = []
    for body in (pipelines, scripts):
        await body()  # warm
        started = time.process_time()
        await body()
        out.append(per_call_us(calls, started))
    await client.delete(STREAM, "bench:redis-client:n")
    await client.aclose()
    return out[0], out[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a Redis to use instead of a bundled one")
    parser.add_argument("--calls", type=int, default=5000, help="calls per kind")
    parser.add_argument("--repeat", type=int, default=3, help="runs per kind; the lowest is reported")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="troupe-redis-client-") as tmp:
        embedded = None if args.url else EmbeddedRedis(Path(tmp))
        url = args.url if embedded is None else embedded.start()
        try:
            sync_us, async_us, evalsha_us = [], [], []
            for i in range(args.repeat):
                sync_us.append(sync_pipeline(url, args.calls))
                a, e = asyncio.run(async_calls(url, args.calls))
                async_us.append(a)
                evalsha_us.append(e)
                print(f"[redis-client] run {i + 1}: sync pipeline {sync_us[-1]:.1f} us, async pipeline "
                      f"{a:.1f} us, async EVALSHA {e:.1f} us (CPU per call)", file=sys.stderr, flush=True)
        finally:
            if embedded is not None:
                embedded.stop()
    print(json.dumps({"redis_py": redis.__version__, "sync_pipeline_us": round(min(sync_us), 1),
                      "async_pipeline_us": round(min(async_us), 1), "async_evalsha_us": round(min(evalsha_us), 1),
                      "calls": args.calls}), flush=True)


if __name__ == "__main__":
    main()
