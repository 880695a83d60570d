"""Binance market data: combined-stream frames and REST klines, parsed and checked (pure).

Garbage never reaches the market: a price that is not a positive finite decimal, a quantity that
is negative, or a trade older than the last one accepted for its symbol is dropped.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from app.domain.candles import Candle


@dataclass(frozen=True, slots=True)
class Trade:
    symbol: str
    price: Decimal
    qty: Decimal
    ts: int
    trade_id: int
    buyer_maker: bool = False


@dataclass(frozen=True, slots=True)
class Book:
    symbol: str
    bid: Decimal
    ask: Decimal


@dataclass(frozen=True, slots=True)
class PartialDepth:
    """`<symbol>@depth20@100ms`: the top of the book, best first (the symbol comes from the stream's name)."""

    symbol: str
    last_update_id: int
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]


@dataclass(frozen=True, slots=True)
class Kline:
    symbol: str
    candle: Candle
    closed: bool


@dataclass(frozen=True, slots=True)
class Shutdown:
    pass


Event = Trade | Book | PartialDepth | Kline | Shutdown
DEPTH_STREAM = "depth20@100ms"


def stream_path(symbols: Iterable[str]) -> str:
    names = [f"{s.lower()}@{kind}" for s in symbols for kind in ("trade", "bookTicker", DEPTH_STREAM, "kline_1m")]
    return "/stream?streams=" + "/".join(names)


def _price(raw: Any) -> Decimal:
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise ValueError(f"not a decimal: {raw!r}") from None
    if not value.is_finite() or value <= 0:
        raise ValueError(f"not a positive finite price: {raw!r}")
    return value


def _qty(raw: Any) -> Decimal:
    try:
        value = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise ValueError(f"not a decimal: {raw!r}") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"not a quantity: {raw!r}")
    return value


def parse_frame(text: str) -> Event | None:
    """One combined-stream frame; None for frames of no interest. Raises ValueError on garbage."""
    try:
        frame = json.loads(text)
        data = frame["data"]
    except (ValueError, KeyError, TypeError):
        raise ValueError("not a combined-stream frame") from None
    if not isinstance(data, dict):
        raise ValueError("frame data is not an object")
    kind = data.get("e")
    stream = frame.get("stream")
    try:
        if kind is None and isinstance(stream, str) and stream.endswith("@" + DEPTH_STREAM):
            return _depth(stream.split("@", 1)[0].upper(), data)
        if kind == "trade":
            return Trade(str(data["s"]), _price(data["p"]), _qty(data["q"]), int(data["T"]), int(data["t"]),
                         bool(data.get("m", False)))
        if kind == "kline":
            k = data["k"]
            candle = Candle(int(k["t"]), _price(k["o"]), _price(k["h"]), _price(k["l"]), _price(k["c"]), _qty(k["v"]))
            return Kline(str(data["s"]), candle, bool(k["x"]))
        if kind == "serverShutdown":
            return Shutdown()
        if kind is None and "b" in data and "a" in data:
            bid, ask = _price(data["b"]), _price(data["a"])
            if bid > ask:
                raise ValueError("crossed book ticker")
            return Book(str(data["s"]), bid, ask)
    except (KeyError, TypeError, IndexError) as exc:
        raise ValueError(f"malformed {kind or 'bookTicker'} event: {exc}") from None
    return None


def _depth(symbol: str, data: dict[str, Any]) -> PartialDepth:
    """A partial-depth payload: levels that are not positive prices and non-negative sizes, or a
    crossed or unsorted book, are garbage."""
    def side(rows: Any) -> tuple[tuple[Decimal, Decimal], ...]:
        if not isinstance(rows, list):
            raise ValueError("depth levels are not a list")
        return tuple((_price(row[0]), _qty(row[1])) for row in rows)

    bids, asks = side(data["bids"]), side(data["asks"])
    if any(a[0] <= b[0] for a, b in itertools.pairwise(bids)) or \
            any(a[0] >= b[0] for a, b in itertools.pairwise(asks)):
        raise ValueError("depth levels out of order")
    if bids and asks and bids[0][0] >= asks[0][0]:
        raise ValueError("crossed depth")
    return PartialDepth(symbol, int(data["lastUpdateId"]), bids, asks)


class TradeFilter:
    """Drops trades that arrive out of order (older, or not newer by id, than the last one kept)."""

    def __init__(self) -> None:
        self.last: dict[str, tuple[int, int]] = {}

    def accept(self, trade: Trade) -> bool:
        previous = self.last.get(trade.symbol)
        if previous is not None and (trade.ts < previous[0] or trade.trade_id <= previous[1]):
            return False
        self.last[trade.symbol] = (trade.ts, trade.trade_id)
        return True


def candles_from_klines(rows: list[list[Any]]) -> list[Candle]:
    """REST /api/v3/klines rows; a malformed row is skipped rather than drawn."""
    out = []
    for row in rows:
        try:
            out.append(Candle(int(row[0]), _price(row[1]), _price(row[2]), _price(row[3]), _price(row[4]),
                              _qty(row[5])))
        except (ValueError, IndexError, TypeError):
            continue
    return out
