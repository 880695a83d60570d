"""Binance's market streams as pure parts: the stream-name grammar, one connection's subscriptions and
its JSON methods (SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET_PROPERTY, GET_PROPERTY) with Binance's
answers and error frames, the incoming-message rate limit, and the diff-depth bookkeeping that turns
the PriceFeed's successive books into `depthUpdate` events whose U/u are the book's update ids, so a
client's local book built from `GET /api/v3/depth` and the events is the server's book exactly.

No I/O: the socket side (web/binance/streams.py) feeds it text, times and ticks."""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from app.domain.candles import INTERVALS

STREAM_LIMIT = 1024  # streams per connection
MESSAGES_PER_S = 5  # incoming messages (pings, pongs, JSON) per connection and second
ID_MAX_LEN = 36
# Every interval Binance names; those Troupe does not keep candles for are refused as invalid streams.
BINANCE_INTERVALS = ("1s", "1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d",
                     "1w", "1M")
METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
ALL_TICKERS, ALL_MINI_TICKERS = "!ticker@arr", "!miniTicker@arr"

_NAME = re.compile(r"(?P<symbol>[a-z0-9]{1,20})@(?P<kind>trade|aggTrade|bookTicker|ticker|miniTicker|"
                   r"kline_(?P<interval>[0-9]{1,2}[smhdwM])|depth(?P<levels>5|10|20)?(?P<fast>@100ms)?)")
_METHOD_VALUE = re.compile(r'"method"\s*:\s*"(?:[^"\\]|\\.)*"')


@dataclass(frozen=True, slots=True)
class Stream:
    """One parsed stream name. `kind`: trade, aggTrade, kline, bookTicker, ticker, miniTicker, depth
    (partial, `levels` a side), diff (diff depth), or the all-market `!ticker@arr` / `!miniTicker@arr`."""

    name: str
    kind: str
    symbol: str | None = None  # upper case, as Troupe and the payloads name it
    interval: str | None = None
    levels: int = 0
    fast: bool = False  # @100ms; otherwise every second


def time_unit(value: str | None) -> bool:
    """Whether `timeUnit` asks for microseconds (MILLISECOND, the default, or MICROSECOND, in either case)."""
    if value is None or value.upper() == "MILLISECOND":
        return False
    if value.upper() == "MICROSECOND":
        return True
    raise invalid("invalid timeUnit; expected MILLISECOND or MICROSECOND")


def parse_stream(name: object, symbols: Collection[str]) -> Stream | None:
    """The stream `name` names, or None when it is no stream Troupe serves (Binance's "invalid stream")."""
    if not isinstance(name, str):
        return None
    if name in (ALL_TICKERS, ALL_MINI_TICKERS):
        return Stream(name, name)
    m = _NAME.fullmatch(name)
    if m is None:
        return None
    symbol = m["symbol"].upper()
    if symbol not in symbols:
        return None
    kind = m["kind"]
    if m["interval"] is not None:
        if m["interval"] not in INTERVALS:  # a Binance interval Troupe keeps no candles for, or none at all
            return None
        return Stream(name, "kline", symbol, interval=m["interval"])
    if kind.startswith("depth"):
        fast = m["fast"] is not None
        if m["levels"] is not None:
            return Stream(name, "depth", symbol, levels=int(m["levels"]), fast=fast)
        return Stream(name, "diff", symbol, fast=fast)
    return Stream(name, kind, symbol)


class StreamError(Exception):
    """A refused request: Binance's error frame `{"error": {"code", "msg"}, "id"}`."""

    def __init__(self, code: int, msg: str, request_id: Any = None) -> None:
        super().__init__(msg)
        self.code, self.msg, self.request_id = code, msg, request_id

    def frame(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "msg": self.msg}, "id": self.request_id}


def invalid(msg: str, request_id: Any = None) -> StreamError:
    return StreamError(2, f"Invalid request: {msg}", request_id)


@dataclass(slots=True)
class Subscriptions:
    """One connection's streams, in the order they were subscribed, and its `combined` property."""

    combined: bool = False
    streams: dict[str, Stream] = field(default_factory=dict)
    limit: int = STREAM_LIMIT

    def subscribe(self, names: Sequence[object], symbols: Collection[str], request_id: Any = None) -> list[Stream]:
        """All of `names` or none of them (an invalid one or more than `limit` in all refuses the lot);
        returns those that are new."""
        parsed = [parse_stream(n, symbols) for n in names]
        if any(s is None for s in parsed):
            raise invalid("invalid stream", request_id)
        new = {s.name: s for s in parsed if s is not None and s.name not in self.streams}
        if len(self.streams) + len(new) > self.limit:
            raise invalid(f"too many streams; at most {self.limit} per connection", request_id)
        self.streams.update(new)
        return list(new.values())

    def unsubscribe(self, names: Iterable[object], request_id: Any = None) -> list[Stream]:
        names = list(names)
        if any(not isinstance(n, str) for n in names):
            raise invalid("invalid stream", request_id)
        return [s for n in names if (s := self.streams.pop(str(n), None)) is not None]

    def names(self) -> list[str]:
        return list(self.streams)


@dataclass(frozen=True, slots=True)
class Change:
    """What a handled request changed: the streams added and removed (the hub re-indexes them)."""

    added: tuple[Stream, ...] = ()
    removed: tuple[Stream, ...] = ()


def _position(text: str, index: int) -> str:
    """Where `text[:index]` ends, as serde_json (Binance's parser) says it: line and column of its last character."""
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1)
    return f"at line {line} column {column}"


def _request_id(request: dict[str, Any]) -> Any:
    if "id" not in request:
        raise invalid("request ID must be an unsigned integer")
    value = request["id"]
    if value is None:
        return None
    if isinstance(value, bool):
        raise invalid("request ID must be an unsigned integer")
    if isinstance(value, int) and -2**63 <= value < 2**63:
        return value
    if isinstance(value, str) and 0 < len(value) <= ID_MAX_LEN and value.isascii() and value.isalnum():
        return value
    raise invalid("request ID must be an unsigned integer")


def handle(text: str, subs: Subscriptions, symbols: Collection[str]) -> tuple[dict[str, Any], Change]:
    """One incoming text frame: the answer to send and what it changed. Errors are answers too."""
    try:
        return _handle(text, subs, symbols)
    except StreamError as exc:
        return exc.frame(), Change()


def _handle(text: str, subs: Subscriptions, symbols: Collection[str]) -> tuple[dict[str, Any], Change]:
    try:
        request, end = json.JSONDecoder().raw_decode(text.lstrip())
        end += len(text) - len(text.lstrip())
        if text[end:].strip():
            raise json.JSONDecodeError("trailing characters", text, end)
    except json.JSONDecodeError as exc:
        # serde's column: the offending character's (1-based), or the last one's at the end of the text
        raise StreamError(3, f"Invalid JSON: expected value {_position(text, min(exc.pos + 1, len(text)))}") \
            from None
    except RecursionError:
        raise StreamError(3, "Invalid JSON: recursion limit exceeded") from None
    if not isinstance(request, dict):
        raise invalid(f"expected a map {_position(text, 0)}")
    if "method" not in request:
        raise invalid(f"missing field `method` {_position(text, end)}")
    method = request["method"]
    if method not in METHODS:
        found = _METHOD_VALUE.search(text)
        where = _position(text, found.end()) if found else _position(text, end)
        variants = ", ".join(f"`{m}`" for m in METHODS)
        raise invalid(f"unknown variant `{method}`, expected one of {variants} {where}")
    request_id = _request_id(request)
    if set(request) - {"method", "params", "id"}:
        raise invalid("too many parameters", request_id)
    params = request.get("params", [])
    if not isinstance(params, list):
        raise invalid("params must be an array", request_id)

    if method == "SUBSCRIBE":
        return {"result": None, "id": request_id}, Change(added=tuple(subs.subscribe(params, symbols, request_id)))
    if method == "UNSUBSCRIBE":
        return {"result": None, "id": request_id}, Change(removed=tuple(subs.unsubscribe(params, request_id)))
    if method == "LIST_SUBSCRIPTIONS":
        if params:
            raise invalid("too many parameters", request_id)
        return {"result": subs.names(), "id": request_id}, Change()
    if not params or not isinstance(params[0], str):
        raise invalid("property name must be a string", request_id)
    if params[0] != "combined":
        raise StreamError(0, "Unknown property", request_id)
    if method == "GET_PROPERTY":
        if len(params) > 1:
            raise invalid("too many parameters", request_id)
        return {"result": subs.combined, "id": request_id}, Change()
    if len(params) > 2:
        raise invalid("too many parameters", request_id)
    if len(params) < 2 or not isinstance(params[1], bool):
        raise StreamError(1, "Invalid value type: expected Boolean", request_id)
    subs.combined = params[1]
    return {"result": None, "id": request_id}, Change()


class RateWindow:
    """At most `limit` incoming messages in any second (Binance disconnects past it)."""

    def __init__(self, limit: int = MESSAGES_PER_S, window_ms: int = 1000) -> None:
        self.limit, self.window_ms = limit, window_ms
        self.times: deque[float] = deque()

    def allow(self, now_ms: float) -> bool:
        while self.times and self.times[0] <= now_ms - self.window_ms:
            self.times.popleft()
        self.times.append(now_ms)
        return len(self.times) <= self.limit


Levels = Sequence[tuple[Decimal, Decimal]]


@dataclass(slots=True)
class Diff:
    """A `depthUpdate`'s content: the update ids it covers and the levels to set (quantity 0: remove)."""

    first_id: int
    last_id: int
    bids: dict[Decimal, Decimal] = field(default_factory=dict)
    asks: dict[Decimal, Decimal] = field(default_factory=dict)

    def merge(self, later: Diff) -> None:
        """Fold a later, contiguous diff into this one (a slower stream's event covers both)."""
        self.last_id = later.last_id
        self.bids.update(later.bids)
        self.asks.update(later.asks)

    def sorted_levels(self) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """Bids best (highest) first, asks best (lowest) first, as Binance lists them."""
        return (sorted(self.bids.items(), reverse=True), sorted(self.asks.items()))


def _changes(before: dict[Decimal, Decimal], after: dict[Decimal, Decimal]) -> dict[Decimal, Decimal]:
    out = {p: q for p, q in after.items() if before.get(p) != q}
    out.update({p: Decimal(0) for p in before if p not in after})
    return out


class DiffBook:
    """One symbol's last published book, and the diff each next publication makes to it.

    The book is what `GET /api/v3/depth` serves (the PriceFeed's 25 levels a side, `lastUpdateId` its
    `book_id`), so a level leaving it is a removal (quantity 0) and a local book kept from the events
    is the published book exactly. The first book seen only sets the state (nothing to diff against).
    """

    def __init__(self) -> None:
        self.last_id: int | None = None
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}

    def apply(self, first_id: int, last_id: int, bids: Levels, asks: Levels) -> Diff | None:
        """A published book (ids `first_id`..`last_id`); None: nothing changed, nothing to diff against, or a
        book already seen (a redelivered tick)."""
        if first_id > last_id or (self.last_id is not None and last_id <= self.last_id):
            return None
        new_bids, new_asks = dict(bids), dict(asks)
        seen = self.last_id is not None
        diff = Diff(first_id, last_id, _changes(self.bids, new_bids), _changes(self.asks, new_asks))
        self.last_id, self.bids, self.asks = last_id, new_bids, new_asks
        return diff if seen else None


class SlowDiffs:
    """The diffs of one second gathered for `<symbol>@depth` (every 1000 ms): one event per flush, its U the
    first diff's and its u the last's. A gap in the ids flushes first, so the client sees it."""

    def __init__(self) -> None:
        self.pending: Diff | None = None

    def add(self, diff: Diff) -> Diff | None:
        """Gather `diff`; returns an event due now (the gathered ones, when `diff` does not follow them)."""
        if self.pending is None:
            self.pending = Diff(diff.first_id, diff.last_id, dict(diff.bids), dict(diff.asks))
            return None
        if diff.first_id != self.pending.last_id + 1:
            due, self.pending = self.pending, Diff(diff.first_id, diff.last_id, dict(diff.bids), dict(diff.asks))
            return due
        self.pending.merge(diff)
        return None

    def flush(self) -> Diff | None:
        due, self.pending = self.pending, None
        return due
