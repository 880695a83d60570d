"""/api/market: symbols and their filters, tickers, candles, the book's depth and the trade tape.
Market data is read from Redis (the latest ticks, books and prints through app/market_data.py)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from aiohttp import web

from app.domain.book import DEPTH, LEVELS
from app.domain.candles import INTERVALS, Candle
from app.domain.tape import KEEP_PRINTS
from app.messages import PriceTick
from app.money import to_str
from app.schemas import parse_int_param
from web.app_keys import MARKET_DATA, REDIS, RUNTIME
from web.problems import Problem

routes = web.RouteTableDef()


def _symbol(request: web.Request, required: bool) -> str | None:
    symbol = request.query.get("symbol")
    specs = request.app[RUNTIME].specs
    if symbol is None and not required:
        return None
    if symbol not in specs:
        raise Problem(400, f"symbol must be one of {', '.join(specs)}", code="BAD_REQUEST", field="symbol")
    return symbol


@routes.get("/api/market/symbols")
async def symbols(request: web.Request) -> web.Response:
    return web.json_response({"symbols": [s.to_json() for s in request.app[RUNTIME].specs.values()]})


async def _ticker(request: web.Request, tick: PriceTick) -> dict[str, Any]:
    raw = await request.app[REDIS].lrange(request.app[RUNTIME].names.candles(tick.symbol, "1h"), -24, -1)
    hours = [Candle.from_json(json.loads(c)) for c in raw]
    opened = hours[0].o if hours else tick.price
    change = ((tick.price - opened) / opened * 100).quantize(Decimal("0.01")) if opened else Decimal(0)
    return {
        "symbol": tick.symbol, "price": to_str(tick.price), "bid": to_str(tick.bid), "ask": to_str(tick.ask),
        "ts": tick.ts, "open24h": to_str(opened), "changePct24h": to_str(change),
        "stale": tick.symbol in await request.app[MARKET_DATA].stale_since(),
        "high24h": to_str(max((c.h for c in hours), default=tick.price)),
        "low24h": to_str(min((c.l for c in hours), default=tick.price)),
        "volume24h": to_str(sum((c.v for c in hours), Decimal(0))),
    }


@routes.get("/api/market/ticker")
async def ticker(request: web.Request) -> web.Response:
    symbol = _symbol(request, required=False)
    ticks = await request.app[MARKET_DATA].latest_ticks()
    if symbol is not None:
        if symbol not in ticks:
            raise Problem(503, "no price yet for this symbol", code="UNAVAILABLE")
        return web.json_response(await _ticker(request, ticks[symbol]))
    return web.json_response({"tickers": [await _ticker(request, t) for t in ticks.values()]})


@routes.get("/api/market/candles")
async def candles(request: web.Request) -> web.Response:
    symbol = _symbol(request, required=True)
    assert symbol is not None
    interval = request.query.get("interval", "1m")
    if interval not in INTERVALS:
        raise Problem(400, f"interval must be one of {', '.join(INTERVALS)}", code="BAD_REQUEST", field="interval")
    limit = parse_int_param(request.query.get("limit"), "limit", 500, 1, 1000)
    raw = await request.app[REDIS].lrange(request.app[RUNTIME].names.candles(symbol, interval), -limit, -1)
    return web.json_response({"symbol": symbol, "interval": interval,
                              "candles": [json.loads(c) for c in raw]})


@routes.get("/api/market/depth")
async def depth(request: web.Request) -> web.Response:
    """The symbol's order book, best first, as Binance's /api/v3/depth shapes it (plus the symbol)."""
    symbol = _symbol(request, required=True)
    assert symbol is not None
    limit = parse_int_param(request.query.get("limit"), "limit", DEPTH, 1, LEVELS)
    book = await request.app[MARKET_DATA].depth(symbol, limit)
    if book is None:
        raise Problem(503, "no book yet for this symbol", code="UNAVAILABLE")
    return web.json_response({"symbol": symbol, **book})


@routes.get("/api/market/trades")
async def trades(request: web.Request) -> web.Response:
    """The public tape: the latest prints, oldest first, as Binance's /api/v3/trades (users anonymised)."""
    symbol = _symbol(request, required=True)
    assert symbol is not None
    limit = parse_int_param(request.query.get("limit"), "limit", 500, 1, KEEP_PRINTS)
    return web.json_response({"symbol": symbol, "trades": await request.app[MARKET_DATA].trades(symbol, limit)})
