"""A seeded random walk of prices in whole ticks, and the candle history that leads up to it.

Randomness is drawn as floats, but only to choose integer tick counts: prices themselves are
always Decimal multiples of the tick size.
"""

from __future__ import annotations

import math
import random
from decimal import Decimal

from app.domain.candles import Candle
from app.domain.symbols import SymbolSpec

YEAR_MS = 365 * 24 * 3600 * 1000


def _sigma_ticks(spec: SymbolSpec, price_ticks: int, dt_ms: int) -> float:
    vol = math.sqrt(dt_ms / YEAR_MS) * int(spec.annual_volatility * 10_000) / 10_000
    return max(price_ticks * vol, 0.5)


class RandomWalk:
    """Geometric-ish walk in tick units with a small spread: bid, ask and last trade."""

    def __init__(self, spec: SymbolSpec, rng: random.Random, price: Decimal, dt_ms: int) -> None:
        self.spec = spec
        self.rng = rng
        self.ticks = max(int(price / spec.tick_size), 10)
        self.dt_ms = dt_ms

    def step(self) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """Advance one tick; returns (last, bid, ask, traded volume)."""
        sigma = _sigma_ticks(self.spec, self.ticks, self.dt_ms)
        self.ticks = max(self.ticks + round(self.rng.gauss(0, sigma)), 10)
        spread = max(1, self.ticks // 20_000)  # about half a basis point, at least one tick
        bid_ticks = self.ticks - self.rng.randint(0, spread)
        ask_ticks = bid_ticks + spread
        tick = self.spec.tick_size
        volume_steps = self.rng.randint(1, 400)
        volume = self.spec.level_qty * volume_steps / 100
        return self.ticks * tick, bid_ticks * tick, ask_ticks * tick, volume.quantize(self.spec.step_size)


def history(spec: SymbolSpec, rng: random.Random, end_price: Decimal, end_ts: int, interval_ms: int,
            count: int) -> list[Candle]:
    """`count` closed candles ending just before `end_ts`, walking backwards from `end_price`."""
    tick = spec.tick_size
    close = max(int(end_price / tick), 10)
    start = end_ts - end_ts % interval_ms
    out: list[Candle] = []
    for i in range(1, count + 1):
        sigma = _sigma_ticks(spec, close, interval_ms)
        opened = max(close + round(rng.gauss(0, sigma)), 10)
        wick = abs(round(rng.gauss(0, sigma / 2)))
        high = max(opened, close) + wick
        low = max(min(opened, close) - abs(round(rng.gauss(0, sigma / 2))), 1)
        volume = spec.level_qty * rng.randint(50, 5000) * interval_ms // 60_000 / 10
        out.append(Candle(start - i * interval_ms, opened * tick, high * tick, low * tick, close * tick,
                          volume.quantize(spec.step_size)))
        close = opened
    out.reverse()
    return out
