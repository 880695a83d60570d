"""RandomWalkSource: PRICE_FEED=simulated. A seeded random walk per symbol (`app/domain/pricewalk.py`).

History is generated at first start so a chart is never empty; after a restart the walk continues
from the last price.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from app.clock import now_ms
from app.domain.candles import INTERVALS
from app.domain.pricewalk import RandomWalk, history
from app.domain.symbols import SymbolSpec
from app.price_sources.port import Market

log = logging.getLogger(__name__)

HISTORY_CANDLES = 500


class RandomWalkSource:
    def __init__(self, specs: dict[str, SymbolSpec], seed: int, tick_interval_ms: int) -> None:
        self.specs = specs
        self.seed = seed
        self.tick_interval_ms = tick_interval_ms
        self.interval_s = tick_interval_ms / 1000
        self.walks: dict[str, RandomWalk] = {}

    def start(self, market: Market, tell: Callable[[Any], None]) -> None:
        rng = random.Random(self.seed)
        latest = market.latest()
        for symbol, spec in self.specs.items():
            tick = latest.get(symbol)
            price = tick.price if tick is not None else spec.start_price
            self.walks[symbol] = RandomWalk(spec, random.Random(rng.random()), price, self.tick_interval_ms)
            self._ensure_history(market, symbol, price, rng)
        self.on_timer(market)  # a first tick right away, before anyone asks for a price

    def _ensure_history(self, market: Market, symbol: str, price: Decimal, rng: random.Random) -> None:
        spec = self.specs[symbol]
        now = now_ms()
        for interval, ms in INTERVALS.items():
            if market.last_candle(symbol, interval) is None:
                market.replace_candles(symbol, interval,
                                       history(spec, random.Random(rng.random()), price, now, ms, HISTORY_CANDLES))
        log.debug("price-feed: %s history ready", symbol)

    def on_timer(self, market: Market) -> None:
        ts = now_ms()
        for symbol, walk in self.walks.items():
            price, bid, ask, volume = walk.step()
            market.publish(symbol, price, bid, ask, volume, ts)

    def on_message(self, message: Any, market: Market) -> bool:
        return False

    def stop(self) -> None:
        """Nothing runs outside the actor."""
