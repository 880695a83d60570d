"""The browser WebSocket's renderer: every frame the server sends, from the messages and events it is given.

Market frames: `PRICE_UPDATE`, `CANDLE_UPDATE`, `MARKET_STATUS`, and for symbols subscribed with the
`book` / `trades` channels `BOOK_UPDATE` (the whole book to `DEPTH` levels, best first, with the update
ids `U`..`u` it covers; a page shows the one with the highest `u`) and `TRADE` (new tape prints).

User events arrive typed (app/events.py); their order, balance and position JSON is the REST renderer's
(app/render.py, app/cfd/render.py), so a live event and the SNAPSHOT a reconnecting page gets agree in
shape. Another interface would add its own renderer beside this one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app import metrics
from app.cfd.render import changed_json
from app.domain.book import DEPTH
from app.events import BalancesChanged, CfdChanged, OrderUpdated, PositionsChanged, UserEvent
from app.hops import WS_WRITTEN, completed, stamp
from app.messages import PriceTick, TradePrints
from app.money import to_str
from app.render import balances_json, order_json, position_update_json


def dumps_frame(obj: dict[str, Any]) -> str:
    """A frame as it goes on the wire: compact JSON."""
    return json.dumps(obj, separators=(",", ":"))


def error_frame(detail: str) -> str:
    return dumps_frame({"type": "ERROR", "detail": detail})


def price_frame(tick: PriceTick) -> str:
    return dumps_frame({"type": "PRICE_UPDATE", "symbol": tick.symbol, "price": to_str(tick.price),
                        "bid": to_str(tick.bid), "ask": to_str(tick.ask), "ts": tick.ts})


def book_frame(tick: PriceTick) -> str:
    """The book a tick carries, as BOOK_UPDATE."""
    return dumps_frame({"type": "BOOK_UPDATE", "symbol": tick.symbol, "U": tick.book_first, "u": tick.book_id,
                        "bids": [[to_str(p), to_str(q)] for p, q in tick.bids[:DEPTH]],
                        "asks": [[to_str(p), to_str(q)] for p, q in tick.asks[:DEPTH]], "ts": tick.ts})


def book_snapshot_frame(symbol: str, book: dict[str, Any]) -> str:
    """The stored book (app/market_data.py `depth`) as the first BOOK_UPDATE after subscribing."""
    return dumps_frame({"type": "BOOK_UPDATE", "symbol": symbol, "U": book["lastUpdateId"],
                        "u": book["lastUpdateId"], "bids": book["bids"], "asks": book["asks"], "ts": None})


def trade_frame(msg: TradePrints) -> str:
    return dumps_frame({"type": "TRADE", "symbol": msg.symbol, "trades": [p.to_json() for p in msg.prints]})


def status_frame(symbol: str, stale: bool, since: int) -> str:
    return dumps_frame({"type": "MARKET_STATUS", "symbol": symbol, "stale": stale, "since": since})


def candle_frame(symbol: str, interval: str, candle: dict[str, Any]) -> str:
    return dumps_frame({"type": "CANDLE_UPDATE", "symbol": symbol, "interval": interval, "candle": candle})


def snapshot_frame(snapshot: dict[str, Any]) -> str:
    """The account from scratch (app/queries.py `snapshot`, already the REST renderer's JSON)."""
    return dumps_frame({"type": "SNAPSHOT", **snapshot})


def pnl_frame(symbol: str, rows: list[dict[str, str | int]], ts: int) -> str:
    """Live PnL of a user's open CFD positions on one symbol (rows: id, markPrice, unrealizedPnl)."""
    return dumps_frame({"type": "CFD_UPDATE", "event": "PNL", "symbol": symbol, "positions": rows, "ts": ts})


def _order(event: OrderUpdated) -> dict[str, Any]:
    data = order_json(event.order, event.fills)
    data["orderType"] = data.pop("type")  # `type` names the frame; the order's own travels as `orderType`
    return data


def _balances(event: BalancesChanged) -> dict[str, Any]:
    return {"balances": balances_json(event.balances)}


def _positions(event: PositionsChanged) -> dict[str, Any]:
    return {"positions": [position_update_json(p) for p in event.positions]}


def _cfd(event: CfdChanged) -> dict[str, Any]:
    return changed_json(event)


_PAYLOADS: dict[type[UserEvent], Callable[[Any], dict[str, Any]]] = {
    OrderUpdated: _order, BalancesChanged: _balances, PositionsChanged: _positions, CfdChanged: _cfd,
}


@dataclass(frozen=True, slots=True)
class TracedFrame:
    """A traced order's frame (TRACE_HOPS): its `trace` is added as the socket's sender takes it, so the
    frame shows when it was written too, and its hops are observed by /metrics' `troupe_hop_seconds`."""

    frame: str
    trace: dict[str, int]

    def render(self) -> str:
        stamp(self.trace, WS_WRITTEN)
        metrics.observe_hops(completed(self.trace))  # the traced order's hops feed /metrics' histograms
        return f'{self.frame[:-1]},"trace":{dumps_frame(self.trace)}}}'


def event_frame(event: UserEvent) -> str:
    """A user event as sent to browsers: its kind as `type`, its data, and `ts` (an order's updateTime)."""
    data = _PAYLOADS[type(event)](event)
    return dumps_frame({"type": event.KIND, **data, "ts": data.get("updateTime")})
