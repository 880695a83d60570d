"""What every Binance-compatible route shares: its weight and the `X-MBX-USED-WEIGHT-1M` header,
Binance's error bodies, the parameters, the signed-request check (Troupe's one verification,
web/api_key_auth.py, its refusals rendered in Binance's codes) and waiting for an order's outcome."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from app.api_keys import FUTURE_LEEWAY_MS, SignedParams, SignedRequestError, signed_params
from app.binance_api import params as bp
from app.binance_api.errors import INVALID_KEY, BinanceError, mandatory, too_much_weight
from app.binance_api.weights import WeightMeter
from app.clock import now_ms
from app.messaging.replies import OrderWatch
from app.security.tokens import Claims
from web.api_key_auth import API_KEY_HEADER, verify_params
from web.app_keys import API_KEY_USES, API_KEYS, SETTINGS
from web.plumbing import client_address
from web.problems import Problem
from web.ratelimit import order_rate_limit

WEIGHT_HEADER = "X-MBX-USED-WEIGHT-1M"
EXECUTION_WAIT_S = 10.0  # a synchronous answer waits this long for the Executor, then says -1007


@dataclass(slots=True)
class BinanceEdge:
    """The edge's state in one web process: the weight meter and the order watch."""

    meter: WeightMeter = field(default_factory=WeightMeter)
    watch: OrderWatch = field(default_factory=OrderWatch)
    execution_wait_s: float = EXECUTION_WAIT_S


EDGE: web.AppKey[BinanceEdge] = web.AppKey("binance_edge", BinanceEdge)
Handler = Callable[[web.Request], Awaitable[Any]]
Weight = int | Callable[[web.Request], int]


def endpoint(weight: Weight) -> Callable[[Handler], Callable[[web.Request], Awaitable[web.Response]]]:
    """A route's weight is counted first (429 past the limit); its JSON or its BinanceError answers."""
    def wrap(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
        @functools.wraps(handler)
        async def run(request: web.Request) -> web.Response:
            edge = request.app[EDGE]
            try:
                cost = weight(request) if callable(weight) else weight
            except BinanceError as exc:
                cost, early = 1, exc
            else:
                early = None
            used, wait_s = edge.meter.spend(client_address(request), cost, now_ms())
            headers = {WEIGHT_HEADER: str(used)}
            try:
                if wait_s is not None:
                    raise too_much_weight(edge.meter.limit, wait_s)
                if early is not None:
                    raise early
                return web.json_response(await handler(request), headers=headers)
            except BinanceError as exc:
                return web.json_response(exc.body(), status=exc.status, headers={**headers, **(exc.headers or {})})
        return run
    return wrap


async def params_of(request: web.Request) -> bp.Params:
    body = (await request.read()).decode("latin-1") if request.can_read_body else ""
    if request.content_type not in ("application/x-www-form-urlencoded", "application/octet-stream", ""):
        body = ""  # Binance reads a form body only
    return bp.parse(request.rel_url.raw_query_string, body)


async def signed_user(request: web.Request, params: bp.Params, permission: str) -> Claims:
    """The key's claims for a correctly signed request holding `permission`; Binance's errors otherwise."""
    api_key = request.headers.get(API_KEY_HEADER)
    if not api_key:
        raise BinanceError(-2014, "API-key format invalid.", 401)
    body = await request.read()
    return await signed_claims(request.app, api_key, params, lambda: signed_params(
        request.rel_url.raw_query_string, body, form_body=True), client_address(request), permission)


async def signed_claims(app: web.Application, api_key: str, params: bp.Params, signed: Callable[[], SignedParams],
                        address: str, permission: str | None) -> Claims:
    """Troupe's one verification (web/api_key_auth.verify_params) of a request however it came (`signed`
    gives what its signature covers), its refusals in Binance's codes, then the key's `permission`
    (None: any live key, as the WebSocket API's session.logon)."""
    if "signature" not in params:
        raise mandatory("signature")
    if not params.get("timestamp", "").isdigit():
        raise mandatory("timestamp")
    try:
        claims = await verify_params(app[API_KEYS], app[API_KEY_USES], api_key, signed, address)
    except SignedRequestError as exc:
        if exc.field == "recvWindow":
            raise BinanceError(-1130, "Data sent for parameter 'recvWindow' is not valid.") from None
        if exc.field == "signature" and exc.status == 401:
            raise BinanceError(-1022, "Signature for this request is not valid.") from None
        if "more than once" in exc.message:
            raise BinanceError(-1101, "Duplicate values for a parameter detected.") from None
        raise mandatory(exc.field or "signature") from None
    except Problem as exc:
        if exc.code == "OUTSIDE_RECV_WINDOW":
            raise outside_recv_window(int(params["timestamp"])) from None
        if exc.code == "INVALID_SIGNATURE":
            raise BinanceError(-1022, "Signature for this request is not valid.") from None
        raise BinanceError(-2015, INVALID_KEY, 401) from None
    if permission is not None and permission not in (claims.permissions or frozenset()):
        raise BinanceError(-2015, INVALID_KEY, 401)
    return claims


def outside_recv_window(timestamp: int) -> BinanceError:
    """Binance's -1021, saying which side of the window the timestamp fell."""
    if timestamp >= now_ms() + FUTURE_LEEWAY_MS:
        return BinanceError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    return BinanceError(-1021, "Timestamp for this request is outside of the recvWindow.")


async def next_change(request: web.Request, order_id: int, done: Callable[[], Awaitable[bool]],
                      deadline: float) -> bool:
    """Wait until `done()` holds for `order_id` (checked once first, then after each of its changes)
    or the loop's clock passes `deadline`; False: it did not."""
    watch = request.app[EDGE].watch
    loop = asyncio.get_running_loop()
    while True:
        fut = watch.watch(order_id)
        try:
            if await done():
                return True
            left = deadline - loop.time()
            if left <= 0:
                return False
            try:
                await asyncio.wait_for(fut, left)
            except TimeoutError:
                return await done()
        finally:
            watch.forget(order_id, fut)


async def order_limit(request: web.Request, user_id: int) -> None:
    """Troupe's per-user order budget (ORDER_RATE_PER_S, shared with /api/trading), as Binance's -1015."""
    try:
        await order_rate_limit(request, user_id)
    except Problem as exc:
        rate = request.app[SETTINGS].order_rate_per_s
        raise BinanceError(-1015, f"Too many new orders; current limit is {rate} orders per SECOND.", 429,
                           exc.headers) from None
