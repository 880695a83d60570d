"""The CFD trigger index: liquidation on the mark, stop-loss and take-profit on the side of the book a
close meets, in sorted lists per symbol, so a tick costs O(log n + k) for n open positions and k
triggered ones, never a scan (pure)."""

from __future__ import annotations

import array
from collections.abc import Iterator
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from sortedcontainers import SortedList

from app.cfd.rules import Direction, Position
from app.cfd.store import from_le, le_bytes

# (list, fires when the price it watches is <= level, which price it watches)
_LISTS = {
    "long_liq": (True, "mark"), "long_sl": (True, "bid"), "long_tp": (False, "bid"),
    "short_liq": (False, "mark"), "short_sl": (False, "ask"), "short_tp": (True, "ask"),
}
_REASON = {"liq": "LIQUIDATED", "sl": "STOP_LOSS", "tp": "TAKE_PROFIT"}


_E8 = Decimal(10**8)


def _floor(price: Decimal) -> int:
    return int(price.scaleb(8).to_integral_value(ROUND_FLOOR))


def _ceil(price: Decimal) -> int:
    return int(price.scaleb(8).to_integral_value(ROUND_CEILING))


class TriggerIndex:
    """Per symbol, six sorted lists of (level × 10^8, position id): exact integer comparisons."""

    def __init__(self) -> None:
        self.lists: dict[str, dict[str, SortedList]] = {}

    def _of(self, symbol: str) -> dict[str, SortedList]:
        found = self.lists.get(symbol)
        if found is None:
            found = self.lists[symbol] = {name: SortedList() for name in _LISTS}
        return found

    @staticmethod
    def _entries(p: Position) -> Iterator[tuple[str, int]]:
        """Levels are tick-aligned (checked on the way in), so × 10^8 is an exact integer."""
        long = p.direction is Direction.LONG
        if p.liquidation > 0:
            yield ("long_liq" if long else "short_liq"), int(p.liquidation * _E8)
        if p.stop_loss is not None:
            yield ("long_sl" if long else "short_sl"), int(p.stop_loss * _E8)
        if p.take_profit is not None:
            yield ("long_tp" if long else "short_tp"), int(p.take_profit * _E8)

    def add(self, p: Position) -> None:
        lists = self._of(p.symbol)
        for name, level in self._entries(p):
            lists[name].add((level, p.id))

    def to_bytes(self) -> tuple[list[list[Any]], bytes]:
        """Every list in its sorted order, as (symbol, list, count) and int64 level and id columns."""
        layout, out = [], bytearray()
        for symbol in sorted(self.lists):
            for name in sorted(self.lists[symbol]):
                lst = self.lists[symbol][name]
                if not lst:
                    continue
                levels = array.array("q", (level for level, _ in lst))
                ids = array.array("q", (pid for _, pid in lst))
                layout.append([symbol, name, len(lst)])
                out += le_bytes(levels) + le_bytes(ids)
        return layout, bytes(out)

    def load_bytes(self, layout: list[list[Any]], blob: bytes | memoryview) -> None:
        """Rebuild from `to_bytes`: the entries come sorted, so each list is built in linear time."""
        at = 0
        for symbol, name, count in layout:
            size = int(count) * 8
            levels, ids = from_le(blob[at:at + size]), from_le(blob[at + size:at + 2 * size])
            at += 2 * size
            self._of(symbol)[name] = _presorted(list(zip(levels, ids, strict=True)))
        if at != len(blob):
            raise ValueError("trigger index data has the wrong length")

    def remove(self, p: Position) -> None:
        lists = self._of(p.symbol)
        for name, level in self._entries(p):
            lists[name].remove((level, p.id))

    def hits(self, symbol: str, bid: Decimal, ask: Decimal, mark: Decimal) -> dict[int, str]:
        """Position id -> why it closes now; a liquidation beats a stop in the same tick."""
        prices = {"bid": bid, "ask": ask, "mark": mark}
        out: dict[int, str] = {}
        for name, lst in self._of(symbol).items():
            fires_at_or_below, watched = _LISTS[name]
            price = prices[watched]
            if fires_at_or_below:  # every level >= price
                entries = lst.irange((_ceil(price), -1))
            else:  # every level <= price
                entries = lst.irange(maximum=(_floor(price), 2**63))
            reason = _REASON[name.split("_", 1)[1]]
            for _, pid in entries:
                if reason == "LIQUIDATED" or pid not in out:
                    out[pid] = reason
        return out


def _presorted(values: list[tuple[int, int]]) -> SortedList:
    """A SortedList of entries already in order (a snapshot's, checksummed), laid out as
    `SortedList.update` lays out what it has sorted, without sorting a million tuples again: sublists of
    the list's load, their maxima and the length (sortedcontainers 2.4.0, pinned; the positional index is
    built on first use). `tests/unit/cfd/test_triggers.py` checks the result with the list's own `_check`."""
    lst = SortedList()
    load = lst._load
    lst._lists = [values[i:i + load] for i in range(0, len(values), load)]
    lst._maxes = [part[-1] for part in lst._lists]
    lst._len = len(values)
    return lst
