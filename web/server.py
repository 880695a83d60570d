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

from app.preflight import Prepared, StartupError, preflight
from settings import ConfigError, Settings


class AccessLogger(AbstractAccessLogger):
    """Method, path (never the query string, which may hold a ticket), status and duration."""

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %s %d %.1fms", request.remote, request.method, request.path, response.status,
                         time * 1000)


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
                        stream=sys.stderr)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING if level != "DEBUG" else logging.INFO)
    logging.getLogger("pykka").setLevel(logging.WARNING)


async def _serve(prepared: Prepared) -> int:
    from web.app import AppRunner, create_app
    from web.app_keys import STATE

    settings = prepared.settings
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def fatal(reason: str) -> None:
        loop.call_soon_threadsafe(stop.set)

    app = create_app(settings, on_fatal=fatal)
    runner = AppRunner(app, access_log_class=AccessLogger, shutdown_timeout=10, handle_signals=False)
    await runner.setup()
    for sock in prepared.sockets:  # bound and listening since the pre-flight: nobody took the port meanwhile
        await web.SockSite(runner, sock).start()
    for sig in (signal.SIGINT, signal.SIGTERM):  # before the line below: a supervisor may signal at once
        loop.add_signal_handler(sig, stop.set)
    port = runner.addresses[0][1]
    print(f"Troupe is running at http://{settings.host}:{port}/  (Ctrl+C to stop)", flush=True)
    await stop.wait()
    logging.getLogger("troupe").info("shutting down")
    await runner.cleanup()
    failure = app[STATE]["failure"]
    if failure:
        logging.getLogger("troupe").critical("exiting because: %s", failure)
        return 1
    return 0


def _run_headless(settings: Settings) -> int:
    """ROLE=executor: actors only, no HTTP; stops on SIGINT/SIGTERM or when the supervisor gives up."""
    from actors.node import Node

    stop = threading.Event()
    failure: list[str] = []

    def give_up(reason: str) -> None:
        failure.append(reason)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    node = Node(settings, give_up=give_up)
    try:
        node.start()
        print(f"Troupe executor node {settings.node_name} running shards "
              f"{','.join(map(str, settings.local_shards))}  (Ctrl+C to stop)", flush=True)
        stop.wait()
    finally:
        node.stop()
    if failure:
        logging.getLogger("troupe").critical("exiting because: %s", failure[0])
        return 1
    return 0


def _refuse(message: str) -> int:
    """One line on stderr and exit status 2: the operator has a setting or the environment to fix."""
    print("troupe: " + " ".join(message.split()), file=sys.stderr)
    return 2


def serve(settings: Settings) -> int:
    """Run the server with these settings until SIGINT/SIGTERM; the exit status of the process."""
    _setup_logging(settings.log_level)
    try:
        prepared = preflight(settings)
    except StartupError as exc:
        return _refuse(f"cannot start: {exc}")
    try:
        if settings.role == "executor":
            return _run_headless(prepared.settings)
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
