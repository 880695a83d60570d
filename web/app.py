"""create_app: wires settings, secrets, Redis, the database, the actors and the routes together.

Start-up order (cleanup runs in reverse): secrets -> Redis (bundled unless REDIS_URL) -> database
-> reply router -> supervised actors (PriceFeed, Executor shards, Broadcaster, Gateway).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor

import aiohttp_jinja2
import jinja2
import redis.asyncio as aioredis
from aiohttp import web

from actors.broadcaster import Broadcaster
from actors.executor import Executor
from actors.gateway import Gateway
from actors.price_feed import PriceFeed
from actors.runtime import Runtime
from actors.supervisor import ChildSpec, Supervisor
from app.domain.symbols import build_specs
from app.embedded_redis import EmbeddedRedis
from app.messaging.names import Names
from app.messaging.replies import ReplyRouter
from app.persistence.db import db, init_database
from app.security.keystore import resolve_secrets
from app.security.tokens import TokenCache
from app.security.vault import Vault
from settings import BASE_DIR, ConfigError, Settings
from web import auth_views, health, market_views, pages, trading_views, ws
from web.keys import (
    CPU_POOL,
    DB_POOL,
    HUB,
    LIMITER,
    REDIS,
    REPLIES,
    RUNTIME,
    SECRETS,
    SETTINGS,
    STATE,
    SUPERVISOR,
    TOKENS,
    VAULT,
)
from web.problems import error_middleware
from web.ratelimit import RateLimiter
from web.security import security_headers
from web.ws import WsHub

log = logging.getLogger("troupe")
DB_THREADS = 4


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


def create_app(settings: Settings, on_fatal: Callable[[str], None] | None = None) -> web.Application:
    """The aiohttp application. `on_fatal` runs (on any thread) when the supervisor gives up."""
    app = web.Application(middlewares=[error_middleware], client_max_size=64 * 1024)
    app[SETTINGS] = settings
    app[STATE] = {"failure": None, "on_fatal": on_fatal}
    app[HUB] = WsHub()
    app[LIMITER] = RateLimiter()
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(BASE_DIR / "templates"), autoescape=True)
    for module in (auth_views, trading_views, market_views, ws, health, pages):
        app.router.add_routes(module.routes)
    app.router.add_static("/static", BASE_DIR / "static", name="static")
    app.on_response_prepare.append(security_headers)
    app.cleanup_ctx.append(_runtime)
    app.on_shutdown.append(_close_websockets)
    return app


async def _close_websockets(app: web.Application) -> None:
    await app[HUB].close_all()


def _children(runtime: Runtime) -> list[ChildSpec]:
    specs = [ChildSpec("price-feed", lambda: PriceFeed.start(runtime))]
    for shard in range(runtime.settings.executor_shards):
        specs.append(ChildSpec(f"executor-{shard}", lambda shard=shard: Executor.start(runtime, shard)))
    specs.append(ChildSpec("broadcaster", lambda: Broadcaster.start(runtime)))
    specs.append(ChildSpec("gateway", lambda: Gateway.start(runtime)))
    return specs


async def _runtime(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    if settings.exchange != "simulator" or settings.price_feed != "simulated":
        raise ConfigError("EXCHANGE=binance and PRICE_FEED=binance are not available in this version; "
                          "use EXCHANGE=simulator and PRICE_FEED=simulated")
    loop = asyncio.get_running_loop()
    jwt_secret, master_key = await loop.run_in_executor(
        None, resolve_secrets, settings.data_dir, settings.jwt_secret, settings.master_key)
    app[SECRETS] = {"jwt": jwt_secret}
    app[TOKENS] = TokenCache(jwt_secret)
    app[VAULT] = Vault(master_key)
    embedded: EmbeddedRedis | None = None
    redis_url = settings.redis_url
    if not redis_url:
        embedded = EmbeddedRedis(settings.data_dir)
        redis_url = await loop.run_in_executor(None, embedded.start)
    app[DB_POOL] = ThreadPoolExecutor(DB_THREADS, thread_name_prefix="db")
    app[CPU_POOL] = ThreadPoolExecutor(2, thread_name_prefix="bcrypt")
    supervisor: Supervisor | None = None
    replies: ReplyRouter | None = None
    runtime: Runtime | None = None
    try:
        await loop.run_in_executor(app[DB_POOL], init_database, settings.resolved_database_url)
        app[REDIS] = aioredis.Redis.from_url(redis_url, socket_timeout=10, socket_connect_timeout=5)
        names = Names(settings.stream_prefix)
        hub = app[HUB]
        runtime = Runtime(settings, redis_url, names, build_specs(settings.symbols), app[VAULT],
                          deliver=lambda messages: loop.call_soon_threadsafe(hub.dispatch, messages))
        app[RUNTIME] = runtime
        replies = ReplyRouter(redis_url, names.reply(settings.node_name))
        await replies.start()
        app[REPLIES] = replies

        def give_up(reason: str) -> None:
            app[STATE]["failure"] = reason
            callback = app[STATE]["on_fatal"]
            if callback is not None:
                callback(reason)

        supervisor = Supervisor(_children(runtime), give_up)
        runtime.fatal = supervisor.fatal
        app[SUPERVISOR] = supervisor
        await loop.run_in_executor(None, supervisor.start)
        log.info("all actors ready: %s", ", ".join(supervisor.status()))
        yield
    finally:
        if replies is not None:
            await replies.stop()
        if supervisor is not None:
            await loop.run_in_executor(None, supervisor.stop)
        if runtime is not None:
            runtime.close()
        if REDIS in app:
            await app[REDIS].aclose()
        await loop.run_in_executor(None, close_thread_connections, app[DB_POOL], DB_THREADS)
        app[DB_POOL].shutdown(wait=True)
        app[CPU_POOL].shutdown(wait=True)
        if not db.is_closed():
            db.close()
        if embedded is not None:
            await loop.run_in_executor(None, embedded.stop)
