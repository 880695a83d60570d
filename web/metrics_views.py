"""`/metrics` for Prometheus: the web node's route, and the executor node's small HTTP server.

Each process exposes its own registry (`app/metrics.py`). A web node answers on its HTTP port and,
when scraped, samples what lives in Redis for the whole deployment: every mailbox's pending entries
and lag (`XINFO GROUPS`, then one `XRANGE … COUNT 1` per group), each symbol's price age and
staleness. An executor node (`ROLE=executor`) has no HTTP server of its own, so with
`METRICS_PORT` set it serves `/metrics` and `/readyz` from a thread (`MetricsServer`). Both
refuse a scrape without `Authorization: Bearer <METRICS_TOKEN>` when that setting is set.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app import metrics
from app.clock import now_ms
from web.app_keys import HUB, MARKET_DATA, REDIS, RUNTIME, SETTINGS
from web.problems import PROBLEM_TYPE, problem, problem_body

log = logging.getLogger("troupe")
routes = web.RouteTableDef()
_HOW_TO_SCRAPE = "this endpoint needs Authorization: Bearer <METRICS_TOKEN>"


def authorized(token: str, header: str | None) -> bool:
    """No METRICS_TOKEN: open. Otherwise the bearer token must match (in constant time)."""
    if not token:
        return True
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@routes.get("/metrics")
async def metrics_view(request: web.Request) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    if not authorized(settings.metrics_token, request.headers.get("Authorization")):
        return problem(401, _HOW_TO_SCRAPE, code="UNAUTHORIZED",
                       headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    metrics.WS_CONNECTIONS.set(len(request.app[HUB].connections))
    try:
        await _sample_redis(request.app)
    except Exception as exc:  # Redis down: serve the process's own metrics; the gauges keep their last values
        log.debug("metrics: sampling Redis failed: %s", exc)
    return web.Response(body=generate_latest(metrics.REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _sample_redis(app: web.Application) -> None:
    redis, names = app[REDIS], app[RUNTIME].names
    streams = [names.gateway, *(names.executor(k) for k in range(app[SETTINGS].executor_shards)), names.events,
               names.market]
    pipe = redis.pipeline(transaction=False)
    for stream in streams:
        pipe.xinfo_groups(stream)
    infos = await pipe.execute(raise_on_error=False)
    groups = [(stream, group) for stream, info in zip(streams, infos, strict=True) if isinstance(info, list)
              for group in info]
    pipe = redis.pipeline(transaction=False)
    for stream, group in groups:
        pipe.xrange(stream, min="(" + _text(group.get("last-delivered-id") or "0-0"), count=1)
    unread = await pipe.execute(raise_on_error=False) if groups else []
    now = now_ms()
    for (stream, group), first in zip(groups, unread, strict=True):
        first_ms = metrics.entry_ms(_text(first[0][0])) if isinstance(first, list) and first else None
        lag = group.get("lag")
        metrics.record_group(stream, _text(group.get("name")), int(group.get("pending") or 0), first_ms,
                             int(lag) if isinstance(lag, int) else None, now)
    market = app[MARKET_DATA]
    ticks, stale = await market.latest_ticks(), await market.stale_since()
    for symbol in app[RUNTIME].specs:
        tick = ticks.get(symbol)
        metrics.record_price(symbol, tick.ts if tick is not None else None, symbol in stale, now)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value or "")


# --- the executor node's server (no aiohttp there: a thread answers scrapes and health checks) ---------

class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not worth a log line each."""


class MetricsServer:
    """`/metrics` and `/readyz` of a headless node on `host:port`, served from a daemon thread."""

    def __init__(self, host: str, port: int, token: str, ready: Callable[[], bool]) -> None:
        self.token = token
        self.ready = ready
        self.server: WSGIServer = make_server(host, port, self._app, handler_class=_QuietHandler)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, name="metrics", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/readyz":
            ok = self.ready()
            start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "application/json")])
            return [json.dumps({"status": "ready" if ok else "not ready"}).encode()]
        if path != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        if not authorized(self.token, environ.get("HTTP_AUTHORIZATION")):
            start_response("401 Unauthorized", [("Content-Type", PROBLEM_TYPE),
                                                ("WWW-Authenticate", 'Bearer realm="metrics"')])
            return [json.dumps(problem_body(401, "UNAUTHORIZED", _HOW_TO_SCRAPE)).encode()]
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
        return [generate_latest(metrics.REGISTRY)]
