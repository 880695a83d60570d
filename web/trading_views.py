"""/api/trading: orders, cancels, positions and balances. Commands go to the Gateway actor."""

from __future__ import annotations

import re
import secrets

from aiohttp import web

from app.domain.orders import OrderStatus
from app.hops import HTTP_ACCEPTED, now_ns
from app.messages import PlaceOco, PlaceOrder, ReplaceOrder, RequestCancel, RequestCancelAll
from app.queries import balances as balances_of
from app.queries import get_order, list_orders, positions
from app.schemas import parse_int_param, parse_oco, parse_order, parse_replace
from web.actor_calls import addressed, ask_actor
from web.app_keys import MARKET_DATA, RUNTIME, SETTINGS
from web.auth import require_user
from web.history_views import time_range
from web.plumbing import in_db, read_json
from web.problems import Problem
from web.ratelimit import order_rate_limit

routes = web.RouteTableDef()
_ORDER_STATUSES = {s.value for s in OrderStatus} | {"OPEN"}


def _order_id(request: web.Request) -> int:
    raw = request.match_info["order_id"]
    if not re.fullmatch(r"[0-9]{1,18}", raw):
        raise Problem(404, f"order {raw[:40]!r} does not exist", code="UNKNOWN_ORDER")
    return int(raw)


async def _command(request: web.Request, msg: PlaceOrder | PlaceOco | RequestCancel | ReplaceOrder | RequestCancelAll,
                   client_order_id: str = "") -> web.Response:
    hint = f"; retry with clientOrderId {client_order_id} to find out without placing twice" if client_order_id \
        else ""
    return await ask_actor(request, request.app[RUNTIME].names.gateway, msg, "gateway", hint)


@routes.post("/api/trading/orders")
async def place_order(request: web.Request) -> web.Response:
    trace = {HTTP_ACCEPTED: now_ns()} if request.app[SETTINGS].trace_hops else None
    claims = await require_user(request, scope="trade")
    await order_rate_limit(request, claims.user_id)
    body = await read_json(request)
    req = parse_order(body, default_client_id="web-" + secrets.token_urlsafe(18))
    msg = PlaceOrder(**addressed(request), user_id=claims.user_id, order=req, trace=trace)
    return await _command(request, msg, req.client_order_id)


@routes.post("/api/trading/orderList/oco")
async def place_oco(request: web.Request) -> web.Response:
    """An OCO list: a take-profit leg and a stop-loss leg; exactly one of them executes."""
    claims = await require_user(request, scope="trade")
    await order_rate_limit(request, claims.user_id)
    req = parse_oco(await read_json(request), default_list_id="oco-" + secrets.token_urlsafe(12))
    msg = PlaceOco(**addressed(request), user_id=claims.user_id, oco=req)
    return await _command(request, msg, req.list_client_order_id)


@routes.delete("/api/trading/orders/{order_id}")
async def cancel_order(request: web.Request) -> web.Response:
    claims = await require_user(request, scope="trade")
    await order_rate_limit(request, claims.user_id)
    order_id = _order_id(request)
    msg = RequestCancel(**addressed(request), user_id=claims.user_id, order_id=order_id)
    return await _command(request, msg)


@routes.post("/api/trading/orders/{order_id}/replace")
async def replace_order(request: web.Request) -> web.Response:
    """Amend an open order: the Executor cancels it and places the new one in one transaction, or, if it can
    no longer be canceled (filled meanwhile), rejects the new one and leaves it as it is."""
    claims = await require_user(request, scope="trade")
    await order_rate_limit(request, claims.user_id)
    order_id = _order_id(request)
    req = parse_replace(await read_json(request), default_client_id="web-" + secrets.token_urlsafe(18))
    msg = ReplaceOrder(**addressed(request), user_id=claims.user_id, order_id=order_id,
                       client_order_id=req.client_order_id, price=req.price,
                       quantity=req.quantity, stop_price=req.stop_price)
    return await _command(request, msg, req.client_order_id)


@routes.delete("/api/trading/orders")
async def cancel_all(request: web.Request) -> web.Response:
    """Cancel every open order of one symbol (`?symbol=`) or, without it, of every symbol."""
    claims = await require_user(request, scope="trade")
    await order_rate_limit(request, claims.user_id)
    symbol = _symbol(request)
    msg = RequestCancelAll(**addressed(request), user_id=claims.user_id, symbol=symbol)
    return await _command(request, msg)


def _symbol(request: web.Request) -> str | None:
    symbol = request.query.get("symbol") or None
    if symbol is not None and symbol not in request.app[RUNTIME].specs:
        raise Problem(400, f"unknown symbol; choose one of {', '.join(request.app[RUNTIME].specs)}", field="symbol")
    return symbol


@routes.get("/api/trading/orders")
async def orders(request: web.Request) -> web.Response:
    claims = await require_user(request)
    q = request.query
    limit = parse_int_param(q.get("limit"), "limit", 50, 1, 500)
    before = parse_int_param(q.get("cursor"), "cursor", 0, 0, 10**18)
    status = q.get("status") or None
    if status is not None and status not in _ORDER_STATUSES:
        raise Problem(400, f"status must be one of {', '.join(sorted(_ORDER_STATUSES))}", field="status")
    side = q.get("side") or None
    if side is not None and side not in ("BUY", "SELL"):
        raise Problem(400, "side must be BUY or SELL", field="side")
    symbol = _symbol(request)
    start, end = time_range(request)
    page = await in_db(request, list_orders, claims.user_id, status, symbol, limit, before or None, side, start, end)
    return web.json_response(page)


@routes.get("/api/trading/orders/{order_id}")
async def order(request: web.Request) -> web.Response:
    claims = await require_user(request)
    order_id = _order_id(request)
    found = await in_db(request, get_order, claims.user_id, order_id)
    if found is None:  # another user's order looks exactly like a missing one
        raise Problem(404, f"order {order_id} does not exist", code="UNKNOWN_ORDER")
    return web.json_response(found)


@routes.get("/api/trading/positions")
async def get_positions(request: web.Request) -> web.Response:
    claims = await require_user(request)
    venue = request.app[SETTINGS].exchange
    marks = await request.app[MARKET_DATA].marks()
    return web.json_response({"positions": await in_db(request, positions, claims.user_id, marks, venue)})


@routes.get("/api/trading/balances")
async def balances(request: web.Request) -> web.Response:
    claims = await require_user(request)
    return web.json_response({"balances": await in_db(request, balances_of, claims.user_id,
                                                      request.app[SETTINGS].exchange)})
