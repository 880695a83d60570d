"""Open CFD positions, kept so that a million of them restore in well under a second.

A snapshot stores positions as columns of scaled integers (amounts × 10^8, exact for the desk's
8-decimal amounts and tick-aligned prices). Restoring loads the columns as they are ("cold") and
turns a row into a `Position` only when something touches it; positions opened or changed since
are ordinary objects ("hot"). Either way the store behaves as a mapping from id to Position.
"""

from __future__ import annotations

import array
import sys
from bisect import bisect_left
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from decimal import Decimal

from app.cfd.rules import Direction, Position

NONE = -1  # a stop-loss / take-profit that is not set
_COLUMNS = ("id", "user_id", "symbol", "direction", "margin", "leverage", "entry", "qty", "liquidation",
            "stop_loss", "take_profit", "opened_at")
_DIRECTIONS = (Direction.LONG, Direction.SHORT)


def scaled(value: Decimal) -> int:
    """An amount with at most 8 decimals as an exact integer."""
    n = value.scaleb(8)
    if n != n.to_integral_value():
        raise ValueError(f"{value} has more than 8 decimals")
    return int(n)


def unscaled(n: int) -> Decimal:
    return Decimal(n).scaleb(-8).normalize() if n else Decimal(0)


@dataclass
class Columns:
    symbols: list[str]
    data: dict[str, array.array] = field(default_factory=dict)

    @classmethod
    def of(cls, positions: list[Position]) -> Columns:
        symbols = sorted({p.symbol for p in positions})
        at = {s: i for i, s in enumerate(symbols)}
        cols = cls(symbols, {name: array.array("q") for name in _COLUMNS})
        d = cols.data
        for p in positions:
            d["id"].append(p.id)
            d["user_id"].append(p.user_id)
            d["symbol"].append(at[p.symbol])
            d["direction"].append(0 if p.direction is Direction.LONG else 1)
            d["margin"].append(scaled(p.margin))
            d["leverage"].append(scaled(p.leverage))
            d["entry"].append(scaled(p.entry))
            d["qty"].append(scaled(p.qty))
            d["liquidation"].append(scaled(p.liquidation))
            d["stop_loss"].append(NONE if p.stop_loss is None else scaled(p.stop_loss))
            d["take_profit"].append(NONE if p.take_profit is None else scaled(p.take_profit))
            d["opened_at"].append(p.opened_at)
        return cls(symbols, d)

    def to_bytes(self) -> bytes:
        """Little-endian int64 columns in a fixed order (canonical: the same positions, the same bytes)."""
        return b"".join(le_bytes(self.data[name]) for name in _COLUMNS)

    @classmethod
    def from_bytes(cls, symbols: list[str], count: int, blob: bytes | memoryview) -> Columns:
        if len(blob) != count * 8 * len(_COLUMNS):
            raise ValueError("column data has the wrong length")
        size = count * 8
        return cls(symbols, {name: from_le(blob[i * size:(i + 1) * size]) for i, name in enumerate(_COLUMNS)})

    def __len__(self) -> int:
        return len(self.data["id"])

    @staticmethod
    def size(count: int) -> int:
        """Bytes taken by `count` rows."""
        return count * 8 * len(_COLUMNS)

    def position(self, row: int) -> Position:
        d = self.data
        sl, tp = d["stop_loss"][row], d["take_profit"][row]
        return Position(d["id"][row], d["user_id"][row], self.symbols[d["symbol"][row]],
                        _DIRECTIONS[d["direction"][row]], unscaled(d["margin"][row]), unscaled(d["leverage"][row]),
                        unscaled(d["entry"][row]), unscaled(d["qty"][row]), unscaled(d["liquidation"][row]),
                        None if sl == NONE else unscaled(sl), None if tp == NONE else unscaled(tp),
                        d["opened_at"][row])


def le_bytes(col: array.array) -> bytes:
    """An int64 column as little-endian bytes, whatever the machine's byte order."""
    if sys.byteorder != "little":
        col = array.array("q", col)
        col.byteswap()
    return col.tobytes()


def from_le(blob: bytes | memoryview) -> array.array:
    col = array.array("q")
    col.frombytes(blob)
    if sys.byteorder != "little":
        col.byteswap()
    return col


class PositionStore(MutableMapping[int, Position]):
    """Hot positions in a dict; cold rows found by binary search on the id column (a snapshot's rows
    are in id order), so restoring builds no per-position index at all. A cold row that became hot
    or closed is remembered in `taken`."""

    def __init__(self, cold: Columns | None = None) -> None:
        self.hot: dict[int, Position] = {}
        self.cold = cold
        self.cold_ids: array.array = cold.data["id"] if cold is not None else array.array("q")
        self.taken: set[int] = set()  # cold rows no longer open as cold

    def _cold_row(self, pid: object) -> int | None:
        ids = self.cold_ids
        if not isinstance(pid, int) or not ids:
            return None
        row = bisect_left(ids, pid)
        if row < len(ids) and ids[row] == pid and row not in self.taken:
            return row
        return None

    def __getitem__(self, pid: int) -> Position:
        found = self.hot.get(pid)
        if found is not None:
            return found
        row = self._cold_row(pid)
        if row is None:
            raise KeyError(pid)  # not open
        assert self.cold is not None
        self.taken.add(row)
        position = self.hot[pid] = self.cold.position(row)
        return position

    def __contains__(self, pid: object) -> bool:
        return pid in self.hot or self._cold_row(pid) is not None

    def __setitem__(self, pid: int, position: Position) -> None:
        row = self._cold_row(pid)
        if row is not None:
            self.taken.add(row)
        self.hot[pid] = position

    def __delitem__(self, pid: int) -> None:
        if self.hot.pop(pid, None) is None:
            row = self._cold_row(pid)
            if row is None:
                raise KeyError(pid)
            self.taken.add(row)

    def _cold_rows(self) -> Iterator[int]:
        taken = self.taken
        return (row for row in range(len(self.cold_ids)) if row not in taken)

    def __iter__(self) -> Iterator[int]:
        yield from self.hot
        ids = self.cold_ids
        for row in self._cold_rows():
            yield ids[row]

    def __len__(self) -> int:
        return len(self.hot) + len(self.cold_ids) - len(self.taken)

    def all(self) -> Iterator[Position]:
        yield from self.hot.values()
        if self.cold is not None:
            for row in self._cold_rows():
                yield self.cold.position(row)

    def margin_total(self) -> Decimal:
        total = sum((p.margin for p in self.hot.values()), Decimal(0))
        if self.cold is not None:
            margins = self.cold.data["margin"]
            cold = sum(margins) - sum(margins[row] for row in self.taken)
            if cold:
                total += unscaled(cold)
        return total

    def columns(self) -> Columns:
        """Every open position as columns, by id (a snapshot's canonical order)."""
        return Columns.of(sorted(self.all(), key=lambda p: p.id))
