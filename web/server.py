"""Serving Troupe: the pre-flight, then the HTTP node (aiohttp on top of the actors) or, for
ROLE=executor, the actors alone. The composition root of `troupe serve` (app/cli.py parses, run.py
wires the two); it lives at the web edge because app/ may not import the web layer it starts."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from app.logs import configure, redact_url
from app.preflight import Prepared, StartupError, preflight
from app.startup import settle_gc
from settings import ConfigError, Settings


class AccessLogger(AbstractAccessLogger):
    """Method, path (never the query string, which may hold a ticket), status and duration."""

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %s %d %.1fms", request.remote, request.method, request.path, response.status,
                         time * 1000)


log = logging.getLogger("troupe")


def summary(settings: Settings, bundled_redis: bool, actors: list[str], where: str) -> str:
    """The one start-up line: what runs, against what, and where (never a password)."""
    from app.version import VERSION

    redis = f"bundled ({settings.redis_url})" if bundled_redis else redact_url(settings.redis_url)
    return (f"Troupe {VERSION} {where}: node {settings.node_name} (ROLE={settings.role}), database "
            f"{redact_url(settings.resolved_database_url)}, redis {redis}, exchange {settings.exchange}, "
            f"price feed {settings.price_feed}, actors {', '.join(actors) or 'none'}")


async def _serve(prepared: Prepared) -> int:
    from web.app import AppRunner, create_app
    from web.app_keys import STATE, SUPERVISOR

    settings = prepared.settings
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def fatal(reason: str) -> None:
        loop.call_soon_threadsafe(stop.set)

    app = create_app(settings, on_fatal=fatal)
    access = {"access_log_class": AccessLogger} if settings.access_log else {"access_log": None}
    runner = AppRunner(app, shutdown_timeout=10, handle_signals=False, **access)
    await runner.setup()
    for sock in prepared.sockets:  # bound and listening since the pre-flight: nobody took the port meanwhile
        await web.SockSite(runner, sock).start()
    for sig in (signal.SIGINT, signal.SIGTERM):  # before the line below: a supervisor may signal at once
        loop.add_signal_handler(sig, stop.set)
    port = runner.addresses[0][1]
    url = f"http://{settings.host}:{port}/"
    log.info("%s", summary(settings, prepared.bundled is not None, list(app[SUPERVISOR].status()), f"ready at {url}"))
    settle_gc()
    print(f"Troupe is running at {url}  (Ctrl+C to stop)", flush=True)
    await stop.wait()
    log.debug("shutting down")
    await runner.cleanup()
    failure = app[STATE]["failure"]
    if failure:
        log.critical("exiting because: %s", failure)
        return 1
    log.info("stopped")
    return 0


def _run_headless(prepared: Prepared) -> int:
    """ROLE=executor: actors only, no HTTP (but `/metrics` and `/readyz` on METRICS_PORT if set);
    stops on SIGINT/SIGTERM or when the supervisor gives up."""
    from actors.node import Node
    from web.metrics_views import MetricsServer

    settings = prepared.settings

    stop = threading.Event()
    failure: list[str] = []

    def give_up(reason: str) -> None:
        failure.append(reason)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    node = Node(settings, give_up=give_up)
    server: MetricsServer | None = None
    try:
        node.start()
        assert node.supervisor is not None
        where = "running headless"
        if settings.metrics_port:
            supervisor = node.supervisor
            try:
                server = MetricsServer(settings.host, settings.metrics_port, settings.metrics_token,
                                       lambda: supervisor.healthy)
            except OSError as exc:
                raise ConfigError(f"METRICS_PORT: cannot listen on {settings.host}:{settings.metrics_port} "
                                  f"({exc.strerror or exc})") from exc
            server.start()
            where += f", metrics at http://{settings.host}:{server.port}/metrics"
        log.info("%s", summary(settings, prepared.bundled is not None, list(node.supervisor.status()), where))
        settle_gc()
        print(f"Troupe executor node {settings.node_name} running shards "
              f"{','.join(map(str, settings.local_shards))}  (Ctrl+C to stop)", flush=True)
        stop.wait()
    finally:
        if server is not None:
            server.stop()
        node.stop()
    if failure:
        log.critical("exiting because: %s", failure[0])
        return 1
    log.info("stopped")
    return 0


def _refuse(message: str) -> int:
    """One line on stderr and exit status 2: the operator has a setting or the environment to fix."""
    print("troupe: " + " ".join(message.split()), file=sys.stderr)
    return 2


def serve(settings: Settings) -> int:
    """Run the server with these settings until SIGINT/SIGTERM; the exit status of the process."""
    configure(settings.log_level, settings.log_format, settings.access_log)
    try:
        prepared = preflight(settings)
    except StartupError as exc:
        return _refuse(f"cannot start: {exc}")
    try:
        if settings.role == "executor":
            return _run_headless(prepared)
        try:
            import uvloop
            uvloop.install()
        except ImportError:  # pragma: no cover - uvloop is in requirements; the server still runs without it
            pass
        return asyncio.run(_serve(prepared))
    except ConfigError as exc:
        return _refuse(f"configuration error: {exc}")
    except OSError as exc:
        print(f"troupe: cannot start: {exc}", file=sys.stderr)
        return 1
    finally:
        prepared.close()
