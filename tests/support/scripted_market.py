"""A test that drives the market itself, against a running application's actors.

It publishes price ticks stamped an hour ahead, so the simulated feed's own (older) ticks can no
longer move the executor's market while the test runs: what fills, and at what price, is decided
by the test's ticks alone.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import redis

from app.messages import PriceTick, encode
from web.app_keys import RUNTIME

AHEAD_MS = 3_600_000


class Market:
    def __init__(self, client: Any, symbol: str = "BTCUSDT") -> None:
        runtime = client.server.app[RUNTIME]
        self.redis = redis.Redis.from_url(runtime.redis_url)
        self.stream = runtime.names.market
        self.symbol = symbol
        self.ts = int(time.time() * 1000) + AHEAD_MS
        self.seq = 10**9

    def tick(self, price: str, *, repeat: bool = False) -> None:
        """Last trade at `price`, the book one dollar wide around it."""
        if not repeat:
            self.ts += 1
            self.seq += 1
        p = Decimal(price)
        msg = PriceTick(msg_id=f"test-tick:{self.seq}", symbol=self.symbol, price=p, bid=p - Decimal("0.5"),
                        ask=p + Decimal("0.5"), ts=self.ts, seq=self.seq)
        self.redis.xadd(self.stream, {"m": encode(msg)})
