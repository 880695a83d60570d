"""/api/v3 and the loading endpoints Binance clients call (sapi, fapi, dapi): public market data,
and signed trading that goes through the Gateway with the same commands as /api/trading."""

from __future__ import annotations

import asyncio
import json
import secrets
from decimal import Decimal
from typing import Any

from aiohttp import web

from app import binance_render as br
from app.binance_api import params as bp
from app.binance_api import queries
from app.binance_api.errors import (
    DUPLICATE_ORDER,
    INSUFFICIENT_BALANCE,
    ORDER_DOES_NOT_EXIST,
    PRICE_RELATIONSHIP,
    TIMEOUT,
    UNKNOWN_ORDER_SENT,
    BinanceError,
    filter_failure,
    rejected,
)
from app.binance_api.weights import depth_weight
from app.clock import now_ms
from app.domain.answers import Answer, RejectionKind
from app.domain.candles import INTERVALS, Candle
from app.domain.orders import TERMINAL, OrderRejected, OrderStatus, OrderType, check_request
from app.messages import PlaceOco, PlaceOrder, Reply, RequestCancel
from app.queries import balances as balances_of
from web.actor_calls import addressed
from web.app_keys import MARKET_DATA, REDIS, REPLIES, RUNTIME, SETTINGS
from web.binance.edge import EDGE, endpoint, next_change, order_limit, params_of, signed_user
from web.plumbing import in_db

routes = web.RouteTableDef()
ASK_TIMEOUT_S = 10.0
_FILTERS = ("PRICE_FILTER", "LOT_SIZE", "NOTIONAL", "TRAILING_DELTA")


def specs_of(request: web.Request) -> Any:
    return request.app[RUNTIME].specs


# --- public ---------------------------------------------------------------------------------------

@routes.get("/api/v3/ping")
@endpoint(1)
async def ping(request: web.Request) -> Any:
    return {}


@routes.get("/api/v3/time")
@endpoint(1)
async def server_time(request: web.Request) -> Any:
    return {"serverTime": now_ms()}


@routes.get("/api/v3/exchangeInfo")
@endpoint(20)
async def exchange_info(request: web.Request) -> Any:
    p = await params_of(request)
    specs = specs_of(request)
    names: list[str] = list(specs)
    if p.get("symbol"):
        names = [bp.symbol(p, specs)]
    elif p.get("symbols"):
        try:
            wanted = json.loads(p["symbols"])
        except ValueError:
            raise BinanceError(-1100, "Illegal characters found in parameter 'symbols'; legal range is "
                               "'^\\[(\"[A-Z0-9-_.]{1,20}\"(,\"[A-Z0-9-_.]{1,20}\"){0,}){0,1}\\]$'.") from None
        if not isinstance(wanted, list) or any(s not in specs for s in wanted):
            raise BinanceError(-1121, "Invalid symbol.")
        names = wanted
    return br.exchange_info_json([specs[s] for s in names], request.app[EDGE].meter.limit, now_ms())


@routes.get("/sapi/v1/capital/config/getall")
@endpoint(10)
async def capital_config(request: web.Request) -> Any:
    """ccxt's fetch_currencies while loading markets: each asset, no deposits or withdrawals here."""
    p = await params_of(request)
    await signed_user(request, p, "read")
    assets = sorted({a for s in specs_of(request).values() for a in (s.base, s.quote)})
    return [{"coin": a, "name": a, "depositAllEnable": False, "withdrawAllEnable": False, "free": "0",
             "locked": "0", "freeze": "0", "withdrawing": "0", "ipoing": "0", "ipoable": "0", "storage": "0",
             "isLegalMoney": False, "trading": True, "networkList": []} for a in assets]


@routes.get("/sapi/v1/margin/allPairs")
@routes.get("/sapi/v1/margin/isolated/allPairs")
@endpoint(1)
async def margin_pairs(request: web.Request) -> Any:
    """ccxt's fetch_currencies asks which assets are marginable: none, this is a spot venue."""
    p = await params_of(request)
    await signed_user(request, p, "read")
    return []


@routes.get("/fapi/v1/exchangeInfo")
@routes.get("/dapi/v1/exchangeInfo")
@endpoint(1)
async def futures_exchange_info(request: web.Request) -> Any:
    """No futures here: clients that load every market type find none."""
    return {"timezone": "UTC", "serverTime": now_ms(), "rateLimits": [], "exchangeFilters": [], "assets": [],
            "symbols": []}


async def _tick(request: web.Request, symbol: str) -> Any:
    tick = (await request.app[MARKET_DATA].latest_ticks()).get(symbol)
    if tick is None:
        raise BinanceError(-1112, "No orders on book for symbol.")
    return tick


def _depth_limit(request: web.Request) -> int:
    return depth_weight(bp.integer(request.query, "limit", 100, 1, 5000) or 100)


@routes.get("/api/v3/depth")
@endpoint(_depth_limit)
async def depth(request: web.Request) -> Any:
    """The market's one book (the PriceFeed's, which fills consume), as /api/market/depth serves it; Troupe
    publishes 25 levels a side, so a larger `limit` gets those."""
    p = await params_of(request)
    symbol = bp.symbol(p, specs_of(request))
    limit = bp.integer(p, "limit", 100, 1, 5000) or 100
    return await _book(request, symbol, limit)


async def _book(request: web.Request, symbol: str, limit: int) -> dict[str, Any]:
    book = await request.app[MARKET_DATA].depth(symbol, limit)
    if book is None:
        raise BinanceError(-1112, "No orders on book for symbol.")
    return book


async def _tape(request: web.Request) -> list[dict[str, Any]]:
    """The public tape (the market's prints and the users' fills, anonymised), oldest first."""
    p = await params_of(request)
    symbol = bp.symbol(p, specs_of(request))
    return await request.app[MARKET_DATA].trades(symbol, bp.integer(p, "limit", 500, 1, 1000) or 500)


@routes.get("/api/v3/trades")
@endpoint(lambda r: 25)
async def recent_trades(request: web.Request) -> Any:
    return [br.public_trade_json(t) for t in await _tape(request)]


@routes.get("/api/v3/aggTrades")
@endpoint(lambda r: 2)
async def agg_trades(request: web.Request) -> Any:
    """Each print is an aggregate of its own (Troupe does not merge prints)."""
    return [br.agg_trade_json(t) for t in await _tape(request)]


@routes.get("/api/v3/klines")
@routes.get("/api/v3/uiKlines")
@endpoint(2)
async def klines(request: web.Request) -> Any:
    p = await params_of(request)
    symbol = bp.symbol(p, specs_of(request))
    bp.required(p, "interval")
    interval = p["interval"]
    if interval not in INTERVALS:
        raise BinanceError(-1120, "Invalid interval.")
    limit = bp.integer(p, "limit", 500, 1, 1000) or 500
    start, end = bp.integer(p, "startTime"), bp.integer(p, "endTime")
    raw = await request.app[REDIS].lrange(request.app[RUNTIME].names.candles(symbol, interval), 0, -1)
    candles = [Candle.from_json(json.loads(c)) for c in raw]
    candles = [c for c in candles if (start is None or c.t >= start) and (end is None or c.t <= end)]
    chosen = candles[:limit] if start is not None else candles[-limit:]
    return [br.kline_json(c, INTERVALS[interval]) for c in chosen]


async def _symbols_of(request: web.Request, p: bp.Params) -> list[str] | None:
    """`symbol`, or the JSON list `symbols`, or None for all."""
    specs = specs_of(request)
    if p.get("symbol"):
        return [bp.symbol(p, specs)]
    if p.get("symbols"):
        try:
            wanted = json.loads(p["symbols"])
        except ValueError:
            raise BinanceError(-1100, "Illegal characters found in parameter 'symbols'.") from None
        if not isinstance(wanted, list) or any(s not in specs for s in wanted):
            raise BinanceError(-1121, "Invalid symbol.")
        return list(wanted)
    return None


def _one_or_all(request: web.Request, one: int, every: int) -> int:
    return one if request.query.get("symbol") else every


async def _hours(request: web.Request, symbol: str) -> list[Candle]:
    raw = await request.app[REDIS].lrange(request.app[RUNTIME].names.candles(symbol, "1h"), -24, -1)
    return [Candle.from_json(json.loads(c)) for c in raw]


@routes.get("/api/v3/ticker/24hr")
@endpoint(lambda r: _one_or_all(r, 2, 80))
async def ticker_24h(request: web.Request) -> Any:
    p = await params_of(request)
    wanted = await _symbols_of(request, p)
    ticks = await request.app[MARKET_DATA].latest_ticks()
    out = [br.ticker_24h_json(s, t.price, t.bid, t.ask, await _hours(request, s), now_ms())
           for s, t in ticks.items() if wanted is None or s in wanted]
    return out[0] if p.get("symbol") and out else out


@routes.get("/api/v3/ticker/price")
@endpoint(lambda r: _one_or_all(r, 2, 4))
async def ticker_price(request: web.Request) -> Any:
    p = await params_of(request)
    wanted = await _symbols_of(request, p)
    ticks = await request.app[MARKET_DATA].latest_ticks()
    out = [{"symbol": s, "price": br.to_str(t.price)} for s, t in ticks.items() if wanted is None or s in wanted]
    return out[0] if p.get("symbol") and out else out


@routes.get("/api/v3/ticker/bookTicker")
@endpoint(lambda r: _one_or_all(r, 2, 4))
async def book_ticker(request: web.Request) -> Any:
    p = await params_of(request)
    wanted = await _symbols_of(request, p)
    specs = specs_of(request)
    out = []
    for s in specs:
        book = await request.app[MARKET_DATA].depth(s, 1) if wanted is None or s in wanted else None
        if book is not None and book["bids"] and book["asks"]:
            out.append({"symbol": s, "bidPrice": book["bids"][0][0], "bidQty": book["bids"][0][1],
                        "askPrice": book["asks"][0][0], "askQty": book["asks"][0][1]})
    return out[0] if p.get("symbol") and out else out


@routes.get("/api/v3/avgPrice")
@endpoint(2)
async def avg_price(request: web.Request) -> Any:
    p = await params_of(request)
    symbol = bp.symbol(p, specs_of(request))
    raw = await request.app[REDIS].lrange(request.app[RUNTIME].names.candles(symbol, "1m"), -5, -1)
    minutes = [Candle.from_json(json.loads(c)) for c in raw]
    if not minutes:
        tick = await _tick(request, symbol)
        return {"mins": 5, "price": br.to_str(tick.price), "closeTime": tick.ts}
    avg = (sum((c.c for c in minutes), Decimal(0)) / len(minutes)).quantize(specs_of(request)[symbol].tick_size)
    return {"mins": 5, "price": br.to_str(avg), "closeTime": minutes[-1].t + 60_000 - 1}


# --- signed: trading ------------------------------------------------------------------------------

def _refusal(reply: Reply) -> BinanceError:
    """A Gateway's rejection in Binance's words."""
    kind, code, message = RejectionKind(reply.kind), str(reply.code), str(reply.message)
    if kind is RejectionKind.FILTER_FAILURE:
        name = next((f for f in _FILTERS if message.startswith(f + ":")), "PRICE_FILTER")
        return filter_failure(name)
    if code == "UNKNOWN_SYMBOL":
        return BinanceError(-1121, "Invalid symbol.")
    if kind is RejectionKind.NO_FUNDS:
        return rejected(INSUFFICIENT_BALANCE)
    if kind is RejectionKind.TOO_MANY_OPEN_ORDERS:
        return filter_failure("EXCHANGE_MAX_NUM_ORDERS")
    if kind is RejectionKind.STALE_PRICES:
        return rejected("Market is closed.")
    if code == "INVALID_PARAMS" and ("take-profit price" in message or "OCO" in message):
        return rejected(PRICE_RELATIONSHIP)
    if code == "DUPLICATE_CLIENT_ORDER_ID":
        return rejected(DUPLICATE_ORDER)
    if kind is RejectionKind.NOT_FOUND:
        return BinanceError(-2011, UNKNOWN_ORDER_SENT)
    if kind is RejectionKind.CONFLICT:
        return BinanceError(-2011, UNKNOWN_ORDER_SENT)
    if kind is RejectionKind.UNAVAILABLE:
        return BinanceError(-1007, TIMEOUT, 408)
    return BinanceError(-1013, message)


def _rejected_outcome(reason: str | None) -> BinanceError:
    """The Executor refused the order: its reason in Binance's words."""
    text = reason or ""
    if text.startswith("insufficient balance"):
        return rejected(INSUFFICIENT_BALANCE)
    name = next((f for f in _FILTERS if text.startswith(f + ":")), None)
    if name is not None:
        return filter_failure(name)
    return rejected(text if text.endswith(".") else "Market is closed." if "no market price" in text else text)


async def _ask(request: web.Request, msg: PlaceOrder | RequestCancel) -> Reply:
    try:
        return await request.app[REPLIES].ask(request.app[RUNTIME].names.gateway, msg, ASK_TIMEOUT_S)
    except TimeoutError:
        raise BinanceError(-1007, TIMEOUT, 408) from None


async def _settled(request: web.Request, user_id: int, order_id: int, terminal: bool) -> tuple[Any, list[Any]]:
    """Wait for the Executor's outcome: a terminal status (`terminal`) or any but PENDING; -1007 if it
    does not come in time (the order still executes exactly once: it is durable)."""
    found: list[Any] = []

    async def done() -> bool:
        got = await in_db(request, queries.order_with_fills, user_id, order_id)
        found[:] = [got]
        status = OrderStatus(got[0].status) if got else OrderStatus.PENDING
        return status in TERMINAL if terminal else status not in (OrderStatus.PENDING, OrderStatus.UNKNOWN)

    deadline = asyncio.get_running_loop().time() + request.app[EDGE].execution_wait_s
    if not await next_change(request, order_id, done, deadline) or not found or found[0] is None:
        raise BinanceError(-1007, TIMEOUT, 408)
    row, fills = found[0]
    return row, fills


async def place(request: web.Request, claims: Any, req: Any, resp_type: str) -> dict[str, Any]:
    """Hand the order to the Gateway; answer as Binance does (a MARKET order once it executed).
    Also the WebSocket API's order.place, with its upgrade request."""
    await order_limit(request, claims.user_id)
    msg = PlaceOrder(**addressed(request), user_id=claims.user_id,
                     order=req, api_key_id=claims.key_id)
    reply = await _ask(request, msg)
    if reply.answer == Answer.REJECTED:
        raise _refusal(reply)
    if reply.answer == Answer.OK:  # a clientOrderId used before: Binance refuses it
        raise rejected(DUPLICATE_ORDER)
    transact_time = now_ms()
    order_id = int(reply.body["orderId"])
    if resp_type == "ACK":
        return {"symbol": req.symbol, "orderId": order_id, "orderListId": -1,
                "clientOrderId": req.client_order_id, "transactTime": transact_time}
    row, fills = await _settled(request, claims.user_id, order_id, terminal=req.type is OrderType.MARKET)
    if row.status == OrderStatus.REJECTED.value:
        raise _rejected_outcome(row.reject_reason)
    return br.new_order_json(resp_type, row, fills, transact_time)


def new_client_id() -> str:
    return "x-troupe-" + secrets.token_hex(13)


@routes.post("/api/v3/order")
@endpoint(1)
async def new_order(request: web.Request) -> Any:
    p = await params_of(request)
    claims = await signed_user(request, p, "trade")
    req, resp_type = bp.new_order(p, specs_of(request), new_client_id())
    return await place(request, claims, req, resp_type)


@routes.post("/api/v3/order/test")
@endpoint(1)
async def test_order(request: web.Request) -> Any:
    """Checked as a new order is (parameters, symbol, filters), never placed."""
    p = await params_of(request)
    await signed_user(request, p, "trade")
    return check_order(request, p)


def check_order(request: web.Request, p: bp.Params) -> dict[str, Any]:
    """An order's parameters and filters checked, nothing placed (REST and the WebSocket API's order.test)."""
    req, _ = bp.new_order(p, specs_of(request), "x-troupe-test")
    try:
        check_request(req, specs_of(request)[req.symbol])
    except OrderRejected as exc:
        if exc.kind is RejectionKind.FILTER_FAILURE:
            raise filter_failure(next((f for f in _FILTERS if exc.message.startswith(f + ":")), "PRICE_FILTER")) \
                from None
        raise BinanceError(-1013, exc.message) from None
    return {}


async def find(request: web.Request, user_id: int, p: bp.Params) -> Any:
    symbol = bp.symbol(p, specs_of(request))
    order_id, cid = bp.order_ref(p)
    return await in_db(request, queries.find_order, user_id, symbol, order_id, cid)


@routes.get("/api/v3/order")
@endpoint(4)
async def query_order(request: web.Request) -> Any:
    p = await params_of(request)
    return await order_status(request, await signed_user(request, p, "read"), p)


async def order_status(request: web.Request, claims: Any, p: bp.Params) -> dict[str, Any]:
    """The order `p` names (REST and the WebSocket API's order.status)."""
    row = await find(request, claims.user_id, p)
    if row is None:
        raise BinanceError(-2013, ORDER_DOES_NOT_EXIST)
    return br.order_json(row)


async def cancel(request: web.Request, claims: Any, order_id: int, limited: bool = True) -> Any:
    """Cancel through the Gateway and wait until the order ended (`limited`: it counts as one order request)."""
    if limited:
        await order_limit(request, claims.user_id)
    msg = RequestCancel(**addressed(request),
                        user_id=claims.user_id, order_id=order_id)
    reply = await _ask(request, msg)
    if reply.answer == Answer.REJECTED:
        raise _refusal(reply)
    row, _ = await _settled(request, claims.user_id, order_id, terminal=True)
    return row


@routes.delete("/api/v3/order")
@endpoint(1)
async def cancel_order(request: web.Request) -> Any:
    p = await params_of(request)
    return await cancel_one(request, await signed_user(request, p, "trade"), p)


async def cancel_one(request: web.Request, claims: Any, p: bp.Params) -> dict[str, Any]:
    """Cancel the order `p` names and answer once it ended (REST and the WebSocket API's order.cancel)."""
    row = await find(request, claims.user_id, p)
    if row is None or OrderStatus(row.status) in TERMINAL:
        raise BinanceError(-2011, UNKNOWN_ORDER_SENT)
    cancel_id = bp.client_id(p, "newClientOrderId") or "x-troupe-" + secrets.token_hex(13)
    return br.cancel_json(await cancel(request, claims, row.id), cancel_id, now_ms())


@routes.get("/api/v3/openOrders")
@endpoint(lambda r: _one_or_all(r, 6, 80))
async def open_orders(request: web.Request) -> Any:
    p = await params_of(request)
    return await open_orders_of(request, await signed_user(request, p, "read"), p)


async def open_orders_of(request: web.Request, claims: Any, p: bp.Params) -> list[dict[str, Any]]:
    symbol = bp.symbol(p, specs_of(request)) if p.get("symbol") else None
    return await in_db(request, queries.open_orders, claims.user_id, symbol)


@routes.delete("/api/v3/openOrders")
@endpoint(1)
async def cancel_open_orders(request: web.Request) -> Any:
    p = await params_of(request)
    claims = await signed_user(request, p, "trade")
    symbol = bp.symbol(p, specs_of(request))
    ids = await in_db(request, queries.open_order_ids, claims.user_id, symbol)
    if not ids:
        raise BinanceError(-2011, UNKNOWN_ORDER_SENT)
    await order_limit(request, claims.user_id)  # one request, however many orders it cancels
    rows = await asyncio.gather(*(cancel(request, claims, i, limited=False) for i in ids))
    now = now_ms()
    return [br.cancel_json(r, "x-troupe-" + secrets.token_hex(13), now) for r in rows]


def _window(p: bp.Params) -> tuple[int | None, int | None, int]:
    start, end = bp.integer(p, "startTime"), bp.integer(p, "endTime")
    if start is not None and end is not None and end - start > 24 * 3_600_000:
        raise BinanceError(-1127, "More than 24 hours between startTime and endTime.")
    return start, end, bp.integer(p, "limit", 500, 1, 1000) or 500


@routes.get("/api/v3/allOrders")
@endpoint(20)
async def all_orders(request: web.Request) -> Any:
    p = await params_of(request)
    claims = await signed_user(request, p, "read")
    symbol = bp.symbol(p, specs_of(request))
    start, end, limit = _window(p)
    return await in_db(request, queries.all_orders, claims.user_id, symbol, bp.integer(p, "orderId"), start, end,
                       limit)


@routes.get("/api/v3/myTrades")
@endpoint(20)
async def my_trades(request: web.Request) -> Any:
    p = await params_of(request)
    claims = await signed_user(request, p, "read")
    symbol = bp.symbol(p, specs_of(request))
    start, end, limit = _window(p)
    order_id, from_id = bp.integer(p, "orderId"), bp.integer(p, "fromId")
    return await in_db(request, queries.my_trades, claims.user_id, symbol, order_id, from_id, start, end, limit)


@routes.get("/api/v3/account")
@endpoint(20)
async def account(request: web.Request) -> Any:
    p = await params_of(request)
    return await account_of(request, await signed_user(request, p, "read"))


async def account_of(request: web.Request, claims: Any) -> dict[str, Any]:
    """The account's answer (REST and the WebSocket API's account.status)."""
    settings = request.app[SETTINGS]
    rows = await in_db(request, balances_of, claims.user_id, settings.exchange)
    can_trade = "trade" in (claims.permissions or frozenset())
    return br.account_json(claims.user_id, rows, settings.fee_rate, can_trade, now_ms())


# --- order lists (OCO) and cancel-replace ---------------------------------------------------------

async def _list_answer(request: web.Request, user_id: int, list_id: int, resp_type: str | None,
                       terminal: bool, cancel: bool = False) -> dict[str, Any]:
    """The list once each leg has its outcome (`terminal`: ended), with its orderReports."""
    legs = await in_db(request, queries.order_list, user_id, list_id, None)
    assert legs
    now = now_ms()
    if resp_type == "ACK":
        return br.list_status_json(legs, [br.ack_json(leg, now) for leg in legs], now)
    settled = [await _settled(request, user_id, leg.id, terminal) for leg in legs]
    if cancel:
        reports = [br.cancel_json(row, row.client_order_id, now) for row, _ in settled]
    else:
        reports = [br.new_order_json(resp_type or "RESULT", row, fills, now) for row, fills in settled]
    return br.list_status_json([row for row, _ in settled], reports, now)


@routes.post("/api/v3/orderList/oco")
@endpoint(1)
async def new_oco(request: web.Request) -> Any:
    p = await params_of(request)
    claims = await signed_user(request, p, "trade")
    req, resp_type = bp.new_oco(p, specs_of(request), "x-troupe-" + secrets.token_hex(11))
    await order_limit(request, claims.user_id)
    msg = PlaceOco(**addressed(request), user_id=claims.user_id,
                   oco=req, api_key_id=claims.key_id)
    reply = await _ask(request, msg)
    if reply.answer == Answer.REJECTED:
        raise _refusal(reply)
    if reply.answer == Answer.OK:
        raise rejected(DUPLICATE_ORDER)
    return await _list_answer(request, claims.user_id, int(reply.body["orderListId"]), resp_type, terminal=False)


@routes.get("/api/v3/orderList")
@endpoint(4)
async def query_order_list(request: web.Request) -> Any:
    p = await params_of(request)
    claims = await signed_user(request, p, "read")
    list_id, cid = bp.list_ref(p, "orderListId", "origClientOrderId")
    legs = await in_db(request, queries.order_list, claims.user_id, list_id, cid)
    if legs is None:
        raise BinanceError(-2013, ORDER_DOES_NOT_EXIST)
    return br.list_status_json(legs, None, max(leg.updated_at for leg in legs))


@routes.get("/api/v3/openOrderList")
@endpoint(6)
async def open_order_lists(request: web.Request) -> Any:
    p = await params_of(request)
    claims = await signed_user(request, p, "read")
    lists = await in_db(request, queries.open_order_lists, claims.user_id)
    return [br.list_status_json(legs, None, max(leg.updated_at for leg in legs)) for legs in lists]


@routes.delete("/api/v3/orderList")
@endpoint(1)
async def cancel_order_list(request: web.Request) -> Any:
    p = await params_of(request)
    claims = await signed_user(request, p, "trade")
    symbol = bp.symbol(p, specs_of(request))
    list_id, cid = bp.list_ref(p, "orderListId", "listClientOrderId")
    legs = await in_db(request, queries.order_list, claims.user_id, list_id, cid)
    if legs is None or legs[0].symbol != symbol or all(OrderStatus(leg.status) in TERMINAL for leg in legs):
        raise BinanceError(-2011, UNKNOWN_ORDER_SENT)
    await _cancel_request(request, claims, legs[0].id)
    return await _list_answer(request, claims.user_id, int(legs[0].order_list_id), "RESULT", terminal=True,
                              cancel=True)


async def _cancel_request(request: web.Request, claims: Any, order_id: int) -> None:
    await order_limit(request, claims.user_id)
    msg = RequestCancel(**addressed(request),
                        user_id=claims.user_id, order_id=order_id)
    reply = await _ask(request, msg)
    if reply.answer == Answer.REJECTED:
        raise _refusal(reply)


@routes.post("/api/v3/order/cancelReplace")
@endpoint(1)
async def cancel_replace(request: web.Request) -> Any:
    """Cancel an order, then place a new one, with Binance's two modes and its -2021 / -2022 answers."""
    p = await params_of(request)
    claims = await signed_user(request, p, "trade")
    bp.only(p, bp.CANCEL_REPLACE_PARAMS)
    bp.required(p, "cancelReplaceMode")
    mode = p["cancelReplaceMode"]
    if mode not in ("STOP_ON_FAILURE", "ALLOW_FAILURE"):
        raise BinanceError(-1130, "Data sent for parameter 'cancelReplaceMode' is not valid.")
    cancel_id = bp.integer(p, "cancelOrderId")
    cancel_cid = bp.client_id(p, "cancelOrigClientOrderId")
    if cancel_id is None and cancel_cid is None:
        raise bp.one_of("cancelOrderId", "cancelOrigClientOrderId")
    new_params = {k: v for k, v in p.items() if not k.startswith("cancel") and k != "orderRateLimitExceededMode"}
    req, resp_type = bp.new_order(new_params, specs_of(request), new_client_id())
    symbol = req.symbol
    cancel_response: dict[str, Any]
    try:
        row = await in_db(request, queries.find_order, claims.user_id, symbol, cancel_id, cancel_cid)
        if row is None or OrderStatus(row.status) in TERMINAL:
            raise BinanceError(-2011, UNKNOWN_ORDER_SENT)
        cancel_new_id = bp.client_id(p, "cancelNewClientOrderId") or new_client_id()
        cancel_response = br.cancel_json(await cancel(request, claims, row.id), cancel_new_id, now_ms())
        canceled = True
    except BinanceError as exc:
        cancel_response, canceled = exc.body(), False
    if not canceled and mode == "STOP_ON_FAILURE":
        raise BinanceError(-2022, "Order cancel-replace failed.", data={
            "cancelResult": "FAILURE", "newOrderResult": "NOT_ATTEMPTED", "cancelResponse": cancel_response,
            "newOrderResponse": None})
    try:
        new_response, placed = await place(request, claims, req, resp_type), True
    except BinanceError as exc:
        new_response, placed = exc.body(), False
    outcome = {"cancelResult": "SUCCESS" if canceled else "FAILURE",
               "newOrderResult": "SUCCESS" if placed else "FAILURE",
               "cancelResponse": cancel_response, "newOrderResponse": new_response}
    if canceled and placed:
        return outcome
    if canceled or placed:
        raise BinanceError(-2021, "Order cancel-replace partially failed.", 409, data=outcome)
    raise BinanceError(-2022, "Order cancel-replace failed.", data=outcome)
