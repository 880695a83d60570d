"""OHLCV candles aggregated from ticks, for every interval the chart offers."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from app.money import to_str

INTERVALS: dict[str, int] = {
    "1m": 60_000,
    "5m": 300_000,
    "15m": 900_000,
    "1h": 3_600_000,
    "4h": 14_400_000,
    "1d": 86_400_000,
}


@dataclass(frozen=True, slots=True)
class Candle:
    t: int  # open time, ms since the epoch
    o: Decimal
    h: Decimal
    l: Decimal  # noqa: E741 - the conventional OHLC name
    c: Decimal
    v: Decimal

    def to_json(self) -> dict[str, object]:
        return {"t": self.t, "o": to_str(self.o), "h": to_str(self.h), "l": to_str(self.l),
                "c": to_str(self.c), "v": to_str(self.v)}

    @staticmethod
    def from_json(d: dict[str, object]) -> Candle:
        return Candle(int(str(d["t"])), Decimal(str(d["o"])), Decimal(str(d["h"])), Decimal(str(d["l"])),
                      Decimal(str(d["c"])), Decimal(str(d["v"])))


def open_time(ts: int, interval_ms: int) -> int:
    return ts - ts % interval_ms


def apply_tick(current: Candle | None, interval_ms: int, ts: int, price: Decimal,
               volume: Decimal) -> tuple[Candle, bool]:
    """Fold a tick into the open candle. Returns (candle, started_new_candle)."""
    start = open_time(ts, interval_ms)
    if current is None or start > current.t:
        return Candle(start, price, price, price, price, volume), True
    if start < current.t:  # an out-of-order tick never rewrites a newer candle
        return current, False
    return replace(current, h=max(current.h, price), l=min(current.l, price), c=price,
                   v=current.v + volume), False
