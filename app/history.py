"""The account's history, computed: equity (spot balances at marks plus CFD equity), the equity curve's
downsampling, daily PnL, which reset epoch a moment belongs to, and the rows of the CSV exports.

Pure: no I/O and no clock, so the arithmetic is tested exactly (tests/unit/test_history.py). Amounts are
Decimals end to end; text is made only by `app.money.to_str`, the same text the JSON API shows.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from app.cfd.rules import Direction, mark_and_upnl
from app.money import ZERO, to_str
from app.render import DECIMAL, MS, obj

QUOTE_ASSET = "USDT"  # equity is counted in it; every symbol is quoted in it

# --- equity ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CfdHolding:
    """An open CFD position as far as equity is concerned."""

    symbol: str
    direction: Direction
    entry: Decimal
    qty: Decimal
    margin: Decimal


@dataclass(frozen=True, slots=True)
class Valuation:
    spot: Decimal  # Σ (free + locked) × mark
    cfd: Decimal  # free margin + Σ (isolated margin + unrealized PnL at the close price)
    unpriced: tuple[str, ...]  # assets held without a mark (counted as nothing until one comes)
    assets: tuple[tuple[str, Decimal], ...] = ()  # (asset, value in USDT) of each priced holding; Σ = spot

    @property
    def total(self) -> Decimal:
        return self.spot + self.cfd


def asset_values(holdings: Mapping[str, Decimal],
                 marks: Mapping[str, Decimal]) -> tuple[tuple[tuple[str, Decimal], ...], tuple[str, ...]]:
    """Each priced holding's value in USDT (USDT at 1, every other asset at its mark, exactly), by asset
    name, and the assets held without a mark (worth nothing yet): the allocation the portfolio shows."""
    values, unpriced = [], []
    for asset in sorted(holdings):
        amount = holdings[asset]
        if asset == QUOTE_ASSET:
            values.append((asset, amount))
        elif asset in marks:
            values.append((asset, amount * marks[asset]))
        elif amount:
            unpriced.append(asset)
    return tuple(values), tuple(unpriced)


def spot_value(holdings: Mapping[str, Decimal], marks: Mapping[str, Decimal]) -> tuple[Decimal, tuple[str, ...]]:
    """USDT at 1, every other asset at its mark (price per base asset), exactly (no rounding); an asset
    without a mark is worth nothing yet and is named in the second value."""
    values, unpriced = asset_values(holdings, marks)
    return sum((v for _, v in values), ZERO), unpriced


def cfd_equity(balance: Decimal, positions: Iterable[CfdHolding],
               quotes: Mapping[str, tuple[Decimal, Decimal]]) -> Decimal:
    """The desk's equity, as `GET /api/cfd/account` shows it: free margin plus each open position's margin
    and its unrealized PnL at the price it would close at now (`rules.mark_and_upnl`); a position whose
    symbol has no quote yet counts at its margin."""
    total = balance
    for p in positions:
        total += p.margin
        quote = quotes.get(p.symbol)
        if quote is not None:
            total += mark_and_upnl(p.direction, p.entry, p.qty, *quote)[1]
    return total


def valuation(holdings: Mapping[str, Decimal], marks: Mapping[str, Decimal], cfd_balance: Decimal,
              cfd_positions: Iterable[CfdHolding], quotes: Mapping[str, tuple[Decimal, Decimal]]) -> Valuation:
    """Total equity in USDT = spot balances at marks + CFD equity."""
    values, unpriced = asset_values(holdings, marks)
    spot = sum((v for _, v in values), ZERO)
    return Valuation(spot, cfd_equity(cfd_balance, cfd_positions, quotes), unpriced, values)


def holdings_of(balances: Iterable[tuple[str, Decimal, Decimal]]) -> dict[str, Decimal]:
    """free + locked per asset, from (asset, free, locked) rows."""
    out: dict[str, Decimal] = {}
    for asset, free, locked in balances:
        out[asset] = out.get(asset, ZERO) + free + locked
    return out


# --- the equity curve --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Point:
    at: int  # epoch ms
    equity: Decimal
    flow: Decimal = ZERO  # equity from outside trading (a reset), not PnL
    reason: str = "MINUTE"


MINUTE_MS = 60_000
DAY_MS = 86_400_000
INTERVALS: dict[str, int] = {"1m": MINUTE_MS, "5m": 5 * MINUTE_MS, "15m": 15 * MINUTE_MS, "1h": 60 * MINUTE_MS,
                             "4h": 240 * MINUTE_MS, "1d": DAY_MS}
MAX_POINTS = 1000  # an automatic interval keeps a range at or under this many buckets


def auto_interval(span_ms: int) -> str:
    """The finest interval that draws `span_ms` in at most MAX_POINTS buckets (1 d beyond that)."""
    for name, ms in INTERVALS.items():
        if span_ms <= ms * MAX_POINTS:
            return name
    return "1d"


def downsample(points: Sequence[Point], interval_ms: int) -> list[Point]:
    """One point per bucket of `interval_ms` (aligned to the UTC epoch): the bucket's last recorded point,
    unchanged (a real equity, never an average), carrying the sum of the bucket's flows, so that PnL over
    the curve is still last − first − flows, exactly. `points` are in time order."""
    out: list[Point] = []
    bucket, flows = None, ZERO
    for p in points:
        b = p.at // interval_ms
        if out and b == bucket:
            flows += p.flow
            out[-1] = Point(p.at, p.equity, flows, p.reason)
        else:
            bucket, flows = b, p.flow
            out.append(p)
    return out


# --- daily PnL ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DayPnl:
    day: str  # YYYY-MM-DD, UTC
    open: Decimal  # the equity the day starts from
    close: Decimal  # its last recorded equity
    flows: Decimal  # equity that came from outside trading during the day (resets)
    pnl: Decimal  # close − open − flows


def daily_pnl(points: Sequence[Point], opening: Point | None = None) -> list[DayPnl]:
    """PnL per UTC day that has points. A day opens at the last point before it (`opening` for the first
    day: the last point before the range), else at its own first point; PnL = close − open − the flows of
    the day's points after its opening one. `points` are in time order."""
    out: list[DayPnl] = []
    prev = opening
    i = 0
    while i < len(points):
        day = points[i].at // DAY_MS
        j = i
        while j < len(points) and points[j].at // DAY_MS == day:
            j += 1
        todays = points[i:j]
        start, rest = (prev, todays) if prev is not None else (todays[0], todays[1:])
        flows = sum((p.flow for p in rest), ZERO)
        close = todays[-1].equity
        out.append(DayPnl(day_of(day * DAY_MS), start.equity, close, flows, close - start.equity - flows))
        prev = todays[-1]
        i = j
    return out


def day_of(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")


def day_start(day: str) -> int:
    """Epoch ms of 00:00 UTC of a YYYY-MM-DD day (ValueError for anything else)."""
    parsed = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC)
    return int(parsed.timestamp()) * 1000


# --- resets ------------------------------------------------------------------------------------------


def epoch_of(at: int, reset_times: Sequence[int]) -> int:
    """How many of the account's resets (their times, ascending) happened at or before `at`: 0 for
    history from before the first reset; rows of one epoch belong to one fresh start."""
    return bisect.bisect_right(reset_times, at)


# --- JSON and CSV of the history ---------------------------------------------------------------------


def iso_time(ms: int) -> str:
    """ISO 8601 UTC with milliseconds: 2026-12-01T23:59:01.123Z."""
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def fill_history_json(fill: Any, symbol: str, side: str, epoch: int) -> dict[str, Any]:
    """A fill as `GET /api/trading/fills` lists it (a row of `fill`, with its order's symbol and side)."""
    return {"id": fill.id, "orderId": fill.order_id, "seq": fill.seq, "symbol": symbol, "side": side,
            "price": to_str(fill.price), "qty": to_str(fill.qty), "quoteQty": to_str(fill.quote_qty),
            "commission": to_str(fill.commission), "commissionAsset": fill.commission_asset,
            "time": fill.created_at, "epoch": epoch}


@dataclass(frozen=True, slots=True)
class Export:
    """A CSV export: its columns (the JSON keys of the API's rows, in order) and which of them are times."""

    name: str
    columns: tuple[str, ...]
    times: frozenset[str]

    def header(self) -> list[str]:
        return list(self.columns)

    def row(self, item: Mapping[str, Any]) -> list[str]:
        """The API's JSON row as CSV cells: the same decimal text, times as ISO 8601 UTC, null as empty."""
        return [_cell(item.get(key), key in self.times) for key in self.columns]


def _cell(value: Any, is_time: bool) -> str:
    if value is None:
        return ""
    if is_time:
        return iso_time(int(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if text[:1] in _FORMULA and not _is_number(text):
        return "'" + text  # a spreadsheet would run it as a formula (CSV injection); numbers stay as they are
    return text


_FORMULA = frozenset("=+-@\t\r")


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except ArithmeticError:
        return False
    return text.lstrip("-").replace(".", "", 1).isdigit()


FILLS = Export("fills", ("time", "id", "orderId", "seq", "symbol", "side", "price", "qty", "quoteQty", "commission",
                         "commissionAsset", "epoch"), frozenset({"time"}))
ORDERS = Export("orders", ("time", "orderId", "clientOrderId", "symbol", "side", "type", "timeInForce", "price",
                           "origQty", "quoteOrderQty", "executedQty", "cummulativeQuoteQty", "avgPrice", "status",
                           "rejectReason", "stopPrice", "trailingDelta", "orderListId", "updateTime", "epoch"),
                frozenset({"time", "updateTime"}))
CFD = Export("cfd", ("openedAt", "id", "symbol", "direction", "status", "margin", "leverage", "entryPrice", "quantity",
                     "liquidationPrice", "stopLossPrice", "takeProfitPrice", "openFee", "exitPrice", "realizedPnl",
                     "closeFee", "payout", "closedAt", "epoch"), frozenset({"openedAt", "closedAt"}))


def reset_json(row: Any, repeated: bool = False) -> dict[str, Any]:
    """An account reset (a row of `account_reset`), as `POST /api/account/reset` answers and the equity
    curve marks it; `repeated`: this request had taken effect before."""
    body: dict[str, Any] = {"number": row.number, "time": row.at, "equityBefore": to_str(row.equity_before),
                            "equityAfter": to_str(row.equity_after), "canceledOrders": row.canceled_orders,
                            "closedPositions": row.closed_positions}
    return {"reset": body, "repeated": repeated}


# --- the JSON Schemas of the shapes above, for /openapi.json (web/openapi.py) ----------------------------
FILL_HISTORY_SCHEMA = obj({"id": {"type": "integer"}, "orderId": {"type": "integer"}, "seq": {"type": "integer"},
                           "symbol": {"type": "string"}, "side": {"type": "string"}, "price": DECIMAL, "qty": DECIMAL,
                           "quoteQty": DECIMAL, "commission": DECIMAL, "commissionAsset": {"type": "string"},
                           "time": MS, "epoch": {"type": "integer"}})
RESET_SCHEMA = obj({"reset": obj({"number": {"type": "integer"}, "time": MS, "equityBefore": DECIMAL,
                                  "equityAfter": DECIMAL, "canceledOrders": {"type": "integer"},
                                  "closedPositions": {"type": "integer"}}),
                    "repeated": {"type": "boolean"}})
