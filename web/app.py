"""create_app: the HTTP side of a node, on top of actors/node.py (secrets, database, actors).

Redis is already there when this runs: `settings.redis_url` names it (app/preflight.py starts the
bundled server when REDIS_URL is unset). Start-up order (cleanup runs in reverse): the node
(secrets -> database -> supervised actors), then the reply router, the session guard and the routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from actors.node import Node
from app.market_data import MarketData
from app.messaging.replies import ReplyRouter
from app.messaging.streams import connect_async
from app.money import to_str
from app.persistence.db import db
from app.persistence.sessions import session_state
from app.security.tokens import TokenCache
from settings import BASE_DIR, Settings
from web import (
    account_sessions_views,
    account_views,
    api_key_views,
    auth_views,
    cfd_views,
    health,
    history_views,
    market_views,
    metrics_views,
    openapi,
    pages,
    problem_types,
    trading_views,
    vendor,
    ws_views,
)
from web.api_key_auth import ApiKeyCache, KeyUse, load_key_row
from web.app_keys import (
    API_KEY_USES,
    API_KEYS,
    CPU_POOL,
    DB_POOL,
    GUARD,
    HUB,
    LIMITER,
    MARKET_DATA,
    REDIS,
    REPLIES,
    RUNTIME,
    SECRETS,
    SETTINGS,
    STATE,
    SUPERVISOR,
    TOKENS,
    VAULT,
    WS_SLOTS,
)
from web.auth_guard import AuthGuard
from web.binance import streams as binance_streams
from web.binance import user_data
from web.binance import views as binance_views
from web.binance.edge import EDGE, BinanceEdge
from web.headers import security_headers
from web.plumbing import in_pool
from web.problems import MalformedRequestHandler, error_middleware
from web.ratelimit import Limiter
from web.ws_hub import WsHub
from web.ws_slots import SocketSlots

log = logging.getLogger("troupe")
DB_THREADS = 4
# aiohttp's limit for one header field is 8190 bytes; the request line's limit differs from it by
# a little so that a refusal can say which of the two was too long (414 or 431).
MAX_REQUEST_LINE = 8192


def close_thread_connections(pool: ThreadPoolExecutor, threads: int) -> None:
    """Close the thread-local connection of every worker (a barrier puts one task on each thread)."""
    barrier = threading.Barrier(threads, timeout=5)

    def close() -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()
        if not db.is_closed():
            db.close()

    for future in [pool.submit(close) for _ in range(threads)]:
        future.result()


class _Server(web.Server):
    """aiohttp's low-level server, whose connections are MalformedRequestHandler (same arguments)."""

    def __call__(self) -> web.RequestHandler:
        return MalformedRequestHandler(self, loop=self._loop, **self._kwargs)


class AppRunner(web.AppRunner):
    """The runner run.py serves with: requests aiohttp cannot parse get a problem document."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        kwargs.setdefault("max_line_size", MAX_REQUEST_LINE)
        super().__init__(app, **kwargs)

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()  # runs the app's start-up; aiohttp builds the Server itself
        server.__class__ = _Server
        return server


def create_app(settings: Settings, on_fatal: Callable[[str], None] | None = None) -> web.Application:
    """The aiohttp application. `on_fatal` runs (on any thread) when the supervisor gives up."""
    app = web.Application(middlewares=[error_middleware], client_max_size=64 * 1024)
    app[SETTINGS] = settings
    app[STATE] = {"failure": None, "on_fatal": on_fatal}
    app[HUB] = WsHub()
    app[EDGE] = BinanceEdge()
    app[user_data.USER_DATA] = user_data.UserData(reads=user_data.Reads(app))
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(BASE_DIR / "templates"), autoescape=True,
                         filters={"dec": to_str})
    # The listen keys' /ws/{listenKey} goes before any generic /ws/{name}; Troupe's own /ws stays as it is.
    for module in (user_data, auth_views, account_views, account_sessions_views, api_key_views, history_views,
                   trading_views, cfd_views, market_views, ws_views, health, pages, vendor, problem_types,
                   metrics_views, binance_views, openapi):
        app.router.add_routes(module.routes)
    app.router.add_static("/static", BASE_DIR / "static", name="static")
    vendor.check_installed()
    app.on_response_prepare.append(security_headers)
    app.cleanup_ctx.append(_runtime)
    app.on_shutdown.append(_close_websockets)
    binance_streams.install(app)  # after every other route: /ws/{name} is its catch-all
    return app


async def _close_websockets(app: web.Application) -> None:
    await app[HUB].close_all()
    await app[user_data.USER_DATA].close_all()


async def _runtime(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    loop = asyncio.get_running_loop()
    hub, watch = app[HUB], app[EDGE].watch

    def dispatch(messages: list[Any]) -> None:
        hub.dispatch(messages)
        watch.dispatch(messages)
        app[binance_streams.STREAM_HUB].dispatch(messages)
        app[user_data.USER_DATA].dispatch(messages)

    def give_up(reason: str) -> None:
        app[STATE]["failure"] = reason
        callback = app[STATE]["on_fatal"]
        if callback is not None:
            callback(reason)

    node = Node(settings, deliver=lambda messages: loop.call_soon_threadsafe(dispatch, messages),
                give_up=give_up)
    app[DB_POOL] = ThreadPoolExecutor(DB_THREADS, thread_name_prefix="db")
    app[CPU_POOL] = ThreadPoolExecutor(2, thread_name_prefix="bcrypt")
    replies: ReplyRouter | None = None
    guard: AuthGuard | None = None
    renewer: asyncio.Task[None] | None = None
    try:
        await loop.run_in_executor(None, node.start)
        assert node.runtime is not None and node.supervisor is not None and node.vault is not None
        app[SECRETS] = {"jwt": node.jwt_secret}
        app[TOKENS] = TokenCache(node.jwt_secret)
        app[VAULT] = node.vault
        app[RUNTIME] = node.runtime
        app[SUPERVISOR] = node.supervisor
        app[REDIS] = connect_async(node.redis_url)
        app[MARKET_DATA] = MarketData(app[REDIS], node.runtime.names, node.runtime.specs)
        app[LIMITER] = Limiter(app[REDIS], node.runtime.names)
        app[WS_SLOTS] = SocketSlots(app[REDIS], node.runtime.names, settings.node_name, settings.ws_max_per_user)
        renewer = asyncio.create_task(app[WS_SLOTS].renew_forever())
        replies = ReplyRouter(node.redis_url, node.runtime.names.reply(settings.node_name))
        await replies.start()
        app[REPLIES] = replies
        guard = AuthGuard(node.redis_url, node.runtime.names.auth_notices,
                          lambda sid: in_pool(app[DB_POOL], session_state, sid), hub.end_sessions,
                          settings.auth_cache_seconds)
        app[API_KEYS] = ApiKeyCache(lambda which: in_pool(app[DB_POOL], load_key_row, which), node.vault,
                                    settings.auth_cache_seconds)
        app[API_KEY_USES] = KeyUse(lambda fn, *args: in_pool(app[DB_POOL], fn, *args),
                                   settings.api_key_touch_seconds)
        guard.listeners.append(app[API_KEYS].on_notice)
        guard.listeners.append(app[user_data.USER_DATA].end_keys)
        await guard.start()
        app[GUARD] = guard
        yield
    finally:
        if guard is not None:
            await guard.stop()
        if API_KEY_USES in app:
            await app[API_KEY_USES].drain()
        if renewer is not None:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer
        if replies is not None:
            await replies.stop()
        if REDIS in app:
            await app[REDIS].aclose()
        await loop.run_in_executor(None, close_thread_connections, app[DB_POOL], DB_THREADS)
        app[DB_POOL].shutdown(wait=True)
        app[CPU_POOL].shutdown(wait=True)
        await loop.run_in_executor(None, node.stop)
