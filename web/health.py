"""/healthz (the process answers) and /readyz (database, Redis and every actor are up)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from app.persistence.db import ping
from web.app_keys import REDIS, STATE, SUPERVISOR
from web.plumbing import in_db

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def _db_ping() -> bool:
    ping()
    return True


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    checks: dict[str, object] = {}
    try:
        checks["database"] = await asyncio.wait_for(in_db(request, _db_ping), 3)
    except Exception as exc:  # any failure means not ready; the reason is reported
        checks["database"] = f"down: {type(exc).__name__}"
    try:
        checks["redis"] = bool(await asyncio.wait_for(request.app[REDIS].ping(), 3))
    except Exception as exc:
        checks["redis"] = f"down: {type(exc).__name__}"
    actors = request.app[SUPERVISOR].status()
    failure = request.app[STATE].get("failure")
    ready = checks["database"] is True and checks["redis"] is True and all(actors.values()) and not failure
    body = {"status": "ready" if ready else "not ready", "checks": checks, "actors": actors, "failure": failure}
    return web.json_response(body, status=200 if ready else 503)
