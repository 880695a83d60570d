"""Token-bucket rate limits kept in process memory (per node), keyed by user or client address."""

from __future__ import annotations

import time

from aiohttp import web

from web.keys import LIMITER, SETTINGS
from web.problems import Problem


class RateLimiter:
    def __init__(self, max_keys: int = 100_000) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._max_keys = max_keys

    def allow(self, key: str, rate_per_s: float, burst: float) -> float:
        """0 if allowed (and a token is taken), else seconds until the next token."""
        now = time.monotonic()
        tokens, stamp = self._buckets.get(key, (burst, now))
        tokens = min(burst, tokens + (now - stamp) * rate_per_s)
        if tokens >= 1:
            if len(self._buckets) >= self._max_keys and key not in self._buckets:
                self._buckets.clear()  # bounded memory under a flood of distinct keys
            self._buckets[key] = (tokens - 1, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1 - tokens) / rate_per_s


def order_rate_limit(request: web.Request, user_id: int) -> None:
    """Orders and desk commands share one budget per user (ORDER_RATE_PER_S, burst twice that)."""
    rate = request.app[SETTINGS].order_rate_per_s
    enforce(request, f"orders:{user_id}", rate, rate * 2, f"at most {rate} order requests per second")


def enforce(request: web.Request, key: str, rate_per_s: float, burst: float, detail: str) -> None:
    """Take a token for `key`, or answer 429 with the seconds to wait in Retry-After."""
    wait = request.app[LIMITER].allow(key, rate_per_s, burst)
    if wait:
        raise Problem(429, detail, code="TOO_MANY_REQUESTS", headers={"Retry-After": str(int(wait) + 1)})
