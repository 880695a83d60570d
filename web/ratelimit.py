"""The one rate limiter of every web process: GCRA buckets in Redis, updated atomically by Lua.

A bucket admits `burst` requests at once and refills at `per_s`. Its whole state is one key, the
bucket's "theoretical arrival time" (TAT) in microseconds of Redis server time (`TIME`), so every
process agrees on the clock as well as on the count. The key expires exactly when the bucket
would be full again: a bucket at rest costs no memory, and nothing ever evicts one that is still
limiting (there is no table to clear).

One `Limiter.apply` is one script call and may move several buckets at once, all or nothing: a
strict step is refused when its bucket lacks room, and then no step is applied; a lenient step
always applies, saturating at the bucket's capacity (to count failures, or cost -1 to refund).
Buckets are named by what they limit (`orders:<user>`, `login:ip:<address>`, ...) under the
runtime's key prefix. The calls made in one turn of the event loop go out in one pipeline (one
round trip for all of them, like the commands of `app/messaging/replies.py`); each is still its own
atomic script run.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

from app.messaging.names import Names
from web.app_keys import LIMITER, SETTINGS
from web.problems import Problem

# KEYS[i] is bucket i; ARGV holds four values per bucket: interval (µs per request), burst, cost,
# strict (1/0). Returns {allowed (1/0), wait in µs, then each bucket's use in requests}.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local before, after = {}, {}
local wait = 0
for i = 1, #KEYS do
  local interval = tonumber(ARGV[4 * i - 3])
  local capacity = tonumber(ARGV[4 * i - 2]) * interval
  local stored = redis.call('GET', KEYS[i])
  local tat = math.max(stored and tonumber(stored) or now, now)
  local next_tat = math.max(tat + tonumber(ARGV[4 * i - 1]) * interval, now)
  if next_tat - now > capacity then
    if ARGV[4 * i] == '1' then
      wait = math.max(wait, next_tat - now - capacity)
    else
      next_tat = now + capacity
    end
  end
  before[i], after[i] = tat, next_tat
end
local result = {wait == 0 and 1 or 0, wait}
for i = 1, #KEYS do
  local tat = after[i]
  if wait > 0 then
    tat = before[i]
  else
    local ttl_ms = math.ceil((tat - now) / 1000)
    if ttl_ms > 0 then
      redis.call('SET', KEYS[i], string.format('%d', tat), 'PX', ttl_ms)
    else
      redis.call('DEL', KEYS[i])
    end
  end
  result[i + 2] = math.ceil((tat - now) / tonumber(ARGV[4 * i - 3]))
end
return result
"""


@dataclass(frozen=True, slots=True)
class Budget:
    """`burst` requests at once, refilled at `per_s` requests per second."""

    per_s: float
    burst: int

    @classmethod
    def per_minute(cls, n: int) -> Budget:
        return cls(n / 60, n)

    @property
    def interval_us(self) -> int:
        return max(1, round(1_000_000 / self.per_s))


@dataclass(frozen=True, slots=True)
class Step:
    """Take `cost` requests from `bucket` (negative: give them back); see the module docstring."""

    bucket: str
    budget: Budget
    cost: int = 1
    strict: bool = True


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    wait_s: float  # until the refused steps would fit (0 when allowed)
    levels: tuple[int, ...]  # each bucket's requests in use afterwards (refused: as it stands)


class Limiter:
    def __init__(self, redis: aioredis.Redis, names: Names) -> None:
        self._redis = redis
        self._script = redis.register_script(_GCRA)
        self._names = names
        self._queued: list[tuple[list[str], list[int], asyncio.Future[Any]]] = []

    async def apply(self, *steps: Step) -> Verdict:
        """One script call, pipelined with the others of this loop turn; raises redis errors (the error
        middleware answers 503)."""
        args: list[int] = []
        for s in steps:
            args += [s.budget.interval_us, s.budget.burst, s.cost, int(s.strict)]
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        if not self._queued:
            loop.call_soon(lambda: loop.create_task(self._flush()))
        self._queued.append(([self._names.limit(s.bucket) for s in steps], args, done))
        allowed, wait_us, *levels = await done
        return Verdict(bool(allowed), wait_us / 1_000_000, tuple(int(n) for n in levels))

    async def _flush(self) -> None:
        batch, self._queued = self._queued, []
        try:
            if len(batch) == 1:  # alone: no pipeline's bookkeeping
                keys, args, done = batch[0]
                results = [await self._script(keys=keys, args=args)]
            else:
                pipe = self._redis.pipeline(transaction=False)
                for keys, args, _ in batch:
                    await self._script(keys=keys, args=args, client=pipe)
                results = await pipe.execute()
        except Exception as exc:
            for _, _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        for (_, _, done), result in zip(batch, results, strict=True):
            if not done.done():
                done.set_result(result)


async def enforce(request: web.Request, detail: str, *steps: Step) -> Verdict:
    """Apply `steps`, or answer 429 with the whole seconds to wait in Retry-After."""
    verdict = await request.app[LIMITER].apply(*steps)
    if not verdict.allowed:
        raise Problem(429, detail, code="TOO_MANY_REQUESTS",
                      headers={"Retry-After": str(max(1, math.ceil(verdict.wait_s)))})
    return verdict


async def order_rate_limit(request: web.Request, user_id: int) -> None:
    """Orders and desk commands share one budget per user (ORDER_RATE_PER_S, burst twice that)."""
    rate = request.app[SETTINGS].order_rate_per_s
    await enforce(request, f"at most {rate} order requests per second",
                  Step(f"orders:{user_id}", Budget(rate, rate * 2)))


async def ticket_rate_limit(request: web.Request, user_id: int) -> None:
    """WebSocket tickets per user (WS_TICKETS_PER_MIN): reconnect loops cannot flood the server."""
    per_min = request.app[SETTINGS].ws_tickets_per_min
    await enforce(request, f"at most {per_min} WebSocket tickets per minute; wait and reconnect",
                  Step(f"ws-ticket:{user_id}", Budget.per_minute(per_min)))
