"""The CFD trigger index: liquidation on the mark, stop-loss and take-profit on the side of the book a
close meets, in sorted lists per symbol, so a tick costs O(log n + k) for n open positions and k
triggered ones, never a scan (pure)."""

from __future__ import annotations

import array
from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterable, Iterator
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
    def _entries(p: Position, skip: Collection[str] = ()) -> Iterator[tuple[str, int]]:
        """Levels are tick-aligned (checked on the way in), so × 10^8 is an exact integer; the lists in
        `skip` are passed over before their level is computed."""
        long = p.direction is Direction.LONG
        if p.liquidation > 0 and (name := "long_liq" if long else "short_liq") not in skip:
            yield name, int(p.liquidation * _E8)
        if p.stop_loss is not None and (name := "long_sl" if long else "short_sl") not in skip:
            yield name, int(p.stop_loss * _E8)
        if p.take_profit is not None and (name := "long_tp" if long else "short_tp") not in skip:
            yield name, int(p.take_profit * _E8)

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

    def remove(self, p: Position, gone: Collection[str] = ()) -> None:
        """Take out `p`'s entries, but for those of the lists named in `gone` (`take` already cut them)."""
        if gone and len(gone) == (p.liquidation > 0) + (p.stop_loss is not None) + (p.take_profit is not None):
            return  # a tick cut every one (the usual liquidation): not even the generator (p99 -10 %)
        lists = self._of(p.symbol)
        for name, level in self._entries(p, gone):
            lists[name].remove((level, p.id))

    def hits(self, symbol: str, bid: Decimal, ask: Decimal, mark: Decimal) -> dict[int, str]:
        """Position id -> why it closes now; a liquidation beats a stop in the same tick."""
        return self._fired(symbol, bid, ask, mark, cut=False)[0]

    def take(self, symbol: str, bid: Decimal, ask: Decimal, mark: Decimal) -> tuple[dict[int, str],
                                                                                  dict[int, list[str]]]:
        """`hits`, taken out of the index: each list's hits are one run at one of its ends (a level fires at
        or beyond the price it watches, so every level past it fires too), cut off at once instead of
        removed one by one. Also each hit position's lists that lost it: close it with `remove(p, gone)`."""
        return self._fired(symbol, bid, ask, mark, cut=True)

    def _fired(self, symbol: str, bid: Decimal, ask: Decimal, mark: Decimal,
               cut: bool) -> tuple[dict[int, str], dict[int, list[str]]]:
        prices = {"bid": bid, "ask": ask, "mark": mark}
        reasons: dict[int, str] = {}
        lists_of: dict[int, list[str]] = {}
        for name, lst in self.lists.get(symbol, {}).items():
            fires_at_or_below, watched = _LISTS[name]
            price = prices[watched]
            entries: Iterable[tuple[int, int]]
            if fires_at_or_below:  # every level >= price: the list's end
                low = (_ceil(price), -1)
                entries = _cut_from(lst, low) if cut else lst.irange(low)
            else:  # every level <= price: the list's start
                high = (_floor(price), 2**63)
                entries = _cut_to(lst, high) if cut else lst.irange(maximum=high)
            reason = _REASON[name.split("_", 1)[1]]
            for _, pid in entries:
                if reason == "LIQUIDATED" or pid not in reasons:
                    reasons[pid] = reason
                lists_of.setdefault(pid, []).append(name)
        return reasons, lists_of


# --- SortedList's layout (sortedcontainers 2.4.0, pinned): sublists (`_lists`) of at most twice the load
# and, all but the last, at least half of it, their maxima (`_maxes`), the length (`_len`), and a
# positional index (`_index`) rebuilt on first use once emptied. `tests/unit/cfd/test_triggers.py` checks
# every list these build or cut with the list's own `_check`.
def _cut_from(lst: SortedList, low: tuple[int, int]) -> list[tuple[int, int]]:
    """Remove and return every entry >= `low`: whole sublists and a part of one, in C."""
    lists, maxes = lst._lists, lst._maxes
    pos = bisect_left(maxes, low)
    if pos == len(maxes):
        return []
    first = lists[pos]
    at = bisect_left(first, low)
    out = first[at:]
    for part in lists[pos + 1:]:
        out += part
    del first[at:], lists[pos + 1:], maxes[pos + 1:]
    if first:
        maxes[pos] = first[-1]  # the last sublist may be short
    else:
        del lists[pos], maxes[pos]
    lst._len -= len(out)
    del lst._index[:]
    return out


def _cut_to(lst: SortedList, high: tuple[int, int]) -> list[tuple[int, int]]:
    """Remove and return every entry <= `high`; a first sublist left short is merged into the next."""
    lists, maxes = lst._lists, lst._maxes
    pos = bisect_right(maxes, high)  # the sublists before `pos` lie wholly at or below `high`
    out: list[tuple[int, int]] = []
    for part in lists[:pos]:
        out += part
    del lists[:pos], maxes[:pos]
    if lists:
        first = lists[0]
        at = bisect_right(first, high)  # < len(first): its maximum is above `high`
        out += first[:at]
        del first[:at]
        if len(lists) > 1 and len(first) < lst._load >> 1:
            lists[1][:0] = first
            del lists[0], maxes[0]
            merged = lists[0]
            if len(merged) > lst._load << 1:
                half = len(merged) >> 1
                lists.insert(1, merged[half:])
                del merged[half:]
                maxes.insert(0, merged[-1])
    lst._len -= len(out)
    del lst._index[:]
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
