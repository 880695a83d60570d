"""The Redis limiter: buckets live exactly as long as they limit, and no flood of keys resets one."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.embedded_redis import EmbeddedRedis
from tests.support.helpers import new_email
from web.app_keys import LIMITER, REDIS, RUNTIME
from web.ratelimit import Budget, Step

WRONG = "not the password at all"


async def _login(client: Any) -> int:
    return (await client.post("/auth/login", json={"email": new_email(), "password": WRONG})).status


async def test_a_flood_of_distinct_keys_never_resets_a_live_bucket(make_client: Any) -> None:
    client = await make_client(auth_rate_per_min=3)
    assert [await _login(client) for _ in range(4)] == [401, 401, 401, 429]
    # More distinct buckets than the old in-process table held before it was cleared whole (100,000).
    flood = Budget.per_minute(3)
    for start in range(0, 100_001, 1000):
        await client.app[LIMITER].apply(*(Step(f"flood:{i}", flood) for i in range(start, start + 1000)))
    assert await _login(client) == 429
    redis, names = client.app[REDIS], client.app[RUNTIME].names
    # Each bucket's key ends when the bucket is full again: one request of 3 a minute is back in 20 s,
    # the address that spent all 3 in 60 s; nothing at rest takes memory.
    assert 0 < await redis.pttl(names.limit("flood:100000")) <= 20_000
    assert 40_000 < await redis.pttl(names.limit("login:ip:127.0.0.1")) <= 60_000


async def test_steps_are_all_or_nothing_and_lenient_ones_saturate(make_client: Any) -> None:
    client = await make_client()
    limiter, redis, names = client.app[LIMITER], client.app[REDIS], client.app[RUNTIME].names
    two = Budget.per_minute(2)
    assert (await limiter.apply(Step("a", two, cost=2))).allowed
    refused = await limiter.apply(Step("b", two), Step("a", two))
    assert not refused.allowed and 29 < refused.wait_s <= 30 and refused.levels == (0, 2)
    assert await redis.exists(names.limit("b")) == 0  # the refused call moved no bucket
    counted = await limiter.apply(Step("a", two, cost=5, strict=False))
    assert counted.allowed and counted.levels == (2,)  # counted, at most up to the bucket's size
    refund = await limiter.apply(Step("a", two, cost=-1, strict=False))
    assert refund.levels == (1,) and (await limiter.apply(Step("a", two))).allowed


async def test_calls_of_one_loop_turn_count_once_each_even_when_redis_lost_the_script(make_client: Any) -> None:
    # Calls queued in one loop turn go out as one pipeline; after the server lost its scripts (its
    # script cache flushed, a restart) each still counts exactly once, in the order it was made.
    client = await make_client()
    limiter, redis = client.app[LIMITER], client.app[REDIS]
    two = Budget.per_minute(2)
    for flushed in (False, True):
        if flushed:
            await redis.script_flush()
        tag = f"s{int(flushed)}"
        verdicts = await asyncio.gather(*(limiter.apply(Step(f"{tag}:{b}", two)) for b in ("a", "b", "a", "a")))
        assert [(v.allowed, v.levels) for v in verdicts] == [(True, (1,)), (True, (1,)), (True, (2,)), (False, (2,))]


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A Redis server of the test's own, stopped after the app that used it (a fixture requested before
    `make_client` is torn down after it), so no server outlives the test."""
    own = EmbeddedRedis(tmp_path / "own-redis")
    yield own
    own.stop()


async def test_a_redis_outage_in_the_limiter_is_a_503_problem(own_redis: EmbeddedRedis, make_client: Any) -> None:
    client = await make_client(redis_url=own_redis.start())
    own_redis.stop()
    try:
        resp = await client.post("/auth/login", json={"email": new_email(), "password": WRONG})
        assert resp.status == 503 and resp.content_type == "application/problem+json"
        assert "Traceback" not in await resp.text()
    finally:
        own_redis.start()  # back for the app's shutdown and the fixture's cleanup
