"""The public trade tape: prints of the market's trades and of Troupe's users' fills, anonymised.

A print carries no user, order or account: an id of the tape's own, the price, the quantity, which
side was the maker, and the tape's time. The tape's time never goes back (a print stamped earlier
than the one before it takes that one's time), so every print lands in the candle whose period holds
its time and a candle's volume is exactly the sum of its prints (`candle_volumes`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal

from app.domain.candles import Candle, apply_tick, open_time
from app.money import ZERO, to_str

KEEP_PRINTS = 1000  # prints kept per symbol (Binance's /trades serves at most 1000 too)


@dataclass(frozen=True, slots=True)
class Print:
    id: int
    price: Decimal
    qty: Decimal
    buyer_maker: bool  # Binance's `m`: the buyer's order was resting, so the taker sold
    ts: int  # ms, the tape's time

    def to_json(self) -> dict[str, object]:
        """As Binance's /api/v3/trades shows a trade."""
        return {"id": self.id, "price": to_str(self.price), "qty": to_str(self.qty),
                "quoteQty": to_str(self.price * self.qty), "time": self.ts, "isBuyerMaker": self.buyer_maker}

    @staticmethod
    def from_json(d: dict[str, object]) -> Print:
        return Print(int(str(d["id"])), Decimal(str(d["price"])), Decimal(str(d["qty"])), bool(d["isBuyerMaker"]),
                     int(str(d["time"])))


class Tape:
    """One symbol's tape as its single writer numbers it: increasing ids and a time that never goes back."""

    def __init__(self, last_id: int = 0, last_ts: int = 0) -> None:
        self.last_id, self.last_ts = last_id, last_ts

    def record(self, price: Decimal, qty: Decimal, buyer_maker: bool, ts: int) -> Print:
        self.last_id += 1
        self.last_ts = max(self.last_ts, ts)
        return Print(self.last_id, price, qty, buyer_maker, self.last_ts)


def fold(current: Candle | None, interval_ms: int, prints: Iterable[Print]) -> list[Candle]:
    """The candles `prints` touch, oldest first, `current` (the open candle) folded in: each one final
    except the last, which stays open."""
    out: list[Candle] = []
    candle = current
    for p in prints:
        candle, started = apply_tick(candle, interval_ms, p.ts, p.price, p.qty)
        if started or not out:
            out.append(candle)
        else:
            out[-1] = candle
    return out


def candle_volumes(prints: Iterable[Print], interval_ms: int) -> dict[int, Decimal]:
    """Volume per candle open time, summed from the prints: what the candles must show."""
    out: dict[int, Decimal] = {}
    for p in prints:
        t = open_time(p.ts, interval_ms)
        out[t] = out.get(t, ZERO) + p.qty
    return out


def with_paper(closed: Candle, paper: Candle | None) -> Candle:
    """An exchange's closed candle with the period's paper prints (our users' fills, which its own
    trades do not include) folded in, so the candle stays the sum of the tape's prints."""
    if paper is None:
        return closed
    return replace(closed, v=closed.v + paper.v, h=max(closed.h, paper.h), l=min(closed.l, paper.l))
