"""The market streams' payloads in Binance's field names, rendered from the typed market messages
(`PriceTick` with its book, `TradePrints`, candles) and the same JSON the REST routes answer with
(`app/binance_render.py`), so a stream and `/api/v3` show one number the same way (`app.money.to_str`).

Each payload is rendered once per batch and shared as text by every subscriber; `combined` wraps
that text for `/stream` connections without encoding it again."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from app import binance_render as br
from app.binance_api.streams import Diff
from app.domain.candles import INTERVALS, Candle
from app.domain.tape import Print
from app.messages import PriceTick
from app.money import to_str


def dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))


def combined(stream: str, data: str) -> str:
    """A combined stream's event: `{"stream": <name>, "data": <raw payload>}`."""
    return f'{{"stream":{json.dumps(stream)},"data":{data}}}'


def _pairs(levels: Any) -> list[list[str]]:
    return [[to_str(p), to_str(q)] for p, q in levels]


def trade(symbol: str, p: Print, event_ms: int) -> dict[str, Any]:
    """`<symbol>@trade`: one print of the tape, its id the one `GET /api/v3/trades` shows."""
    return {"e": "trade", "E": event_ms, "s": symbol, "t": p.id, "p": to_str(p.price), "q": to_str(p.qty),
            "T": p.ts, "m": p.buyer_maker, "M": True}


def agg_trade(symbol: str, p: Print, event_ms: int) -> dict[str, Any]:
    """`<symbol>@aggTrade`: each print is an aggregate of its own, as `GET /api/v3/aggTrades` says."""
    return {"e": "aggTrade", "E": event_ms, "s": symbol, **br.agg_trade_json(p.to_json())}


def kline(symbol: str, interval: str, c: Candle, closed: bool, event_ms: int) -> dict[str, Any]:
    """`<symbol>@kline_<interval>`: the fields of `GET /api/v3/klines`' row (`br.kline_json`)."""
    row = br.kline_json(c, INTERVALS[interval])
    return {"e": "kline", "E": event_ms, "s": symbol,
            "k": {"t": row[0], "T": row[6], "s": symbol, "i": interval, "f": -1, "L": -1, "o": row[1],
                  "c": row[4], "h": row[2], "l": row[3], "v": row[5], "n": row[8], "x": closed, "q": row[7],
                  "V": row[9], "Q": row[10], "B": row[11]}}


def touch(tick: PriceTick) -> tuple[str, str, str, str]:
    """The best bid and ask with their quantities (the tick's own bid/ask and 0 when it carries no book)."""
    bid, bid_qty = tick.bids[0] if tick.bids else (tick.bid, Decimal(0))
    ask, ask_qty = tick.asks[0] if tick.asks else (tick.ask, Decimal(0))
    return to_str(bid), to_str(bid_qty), to_str(ask), to_str(ask_qty)


def book_ticker(tick: PriceTick) -> dict[str, Any]:
    """`<symbol>@bookTicker`: `u` is the book's update id (`lastUpdateId` of `GET /api/v3/depth`)."""
    b, bq, a, aq = touch(tick)
    return {"u": tick.book_id, "s": tick.symbol, "b": b, "B": bq, "a": a, "A": aq}


def partial_depth(tick: PriceTick, levels: int) -> dict[str, Any]:
    """`<symbol>@depth<levels>[@100ms]`: the top of the book `GET /api/v3/depth` serves."""
    return {"lastUpdateId": tick.book_id, "bids": _pairs(tick.bids[:levels]), "asks": _pairs(tick.asks[:levels])}


def depth_update(symbol: str, diff: Diff, event_ms: int) -> dict[str, Any]:
    """`<symbol>@depth[@100ms]`: the levels one or more publications changed (quantity 0: gone)."""
    bids, asks = diff.sorted_levels()
    return {"e": "depthUpdate", "E": event_ms, "s": symbol, "U": diff.first_id, "u": diff.last_id,
            "b": _pairs(bids), "a": _pairs(asks)}


def ticker(stats: dict[str, Any], tick: PriceTick, event_ms: int) -> dict[str, Any]:
    """`<symbol>@ticker` from `GET /api/v3/ticker/24hr`'s body (`br.ticker_24h_json`) and the tick's touch."""
    b, bq, a, aq = touch(tick)
    return {"e": "24hrTicker", "E": event_ms, "s": stats["symbol"], "p": stats["priceChange"],
            "P": stats["priceChangePercent"], "w": stats["weightedAvgPrice"], "x": stats["prevClosePrice"],
            "c": stats["lastPrice"], "Q": stats["lastQty"], "b": b, "B": bq, "a": a, "A": aq,
            "o": stats["openPrice"], "h": stats["highPrice"], "l": stats["lowPrice"], "v": stats["volume"],
            "q": stats["quoteVolume"], "O": stats["openTime"], "C": stats["closeTime"], "F": stats["firstId"],
            "L": stats["lastId"], "n": stats["count"]}


def mini_ticker(stats: dict[str, Any], event_ms: int) -> dict[str, Any]:
    """`<symbol>@miniTicker`: the 24 h ticker's close, open, high, low and volumes."""
    return {"e": "24hrMiniTicker", "E": event_ms, "s": stats["symbol"], "c": stats["lastPrice"],
            "o": stats["openPrice"], "h": stats["highPrice"], "l": stats["lowPrice"], "v": stats["volume"],
            "q": stats["quoteVolume"]}


def server_shutdown(event_ms: int) -> dict[str, Any]:
    return {"e": "serverShutdown", "E": event_ms}


_TIMES = ("E", "T", "O", "C")  # the payloads' top-level times (a trade's `t` is its id, not a time)


def in_microseconds(payload: Any) -> Any:
    """The payload for a `timeUnit=MICROSECOND` connection: every time in microseconds (a kline's close time is
    the last microsecond of its period)."""
    if isinstance(payload, list):
        return [in_microseconds(p) for p in payload]
    out = {k: v * 1000 if k in _TIMES and isinstance(v, int) else v for k, v in payload.items()}
    if isinstance(payload.get("k"), dict):
        k = payload["k"]
        out["k"] = {**k, "t": k["t"] * 1000, "T": k["T"] * 1000 + 999}
    return out
