"""/api/cfd: the leveraged CFD desk. Commands go to the user's Executor shard, which owns the engine
and answers once the command is journaled and applied; reads come from the database projection."""

from __future__ import annotations

import re
import secrets
from decimal import Decimal
from typing import Any

from aiohttp import web

from app.cfd.queries import cfd_account, cfd_position, cfd_positions
from app.messages import CfdRequest
from app.messaging.names import shard_of
from app.schemas import parse_cfd_amend, parse_cfd_open, parse_cfd_transfer
from web.actor_calls import ask_actor
from web.app_keys import MARKET_DATA, REPLIES, RUNTIME, SETTINGS
from web.auth import require_user
from web.plumbing import in_db, read_json
from web.problems import Problem
from web.ratelimit import order_rate_limit

routes = web.RouteTableDef()


async def _quotes(request: web.Request) -> dict[str, tuple[Decimal, Decimal]]:
    return {s: (t.bid, t.ask) for s, t in (await request.app[MARKET_DATA].latest_ticks()).items()}


def _position_id(request: web.Request) -> int:
    raw = request.match_info["position_id"]
    if not re.fullmatch(r"[0-9]{1,18}", raw):
        raise Problem(404, f"position {raw[:40]!r} does not exist", code="UNKNOWN_POSITION")
    return int(raw)


async def _ask(request: web.Request, user_id: int, action: str, params: dict[str, Any],
               request_id: str | None = None) -> web.Response:
    await order_rate_limit(request, user_id)
    runtime, replies = request.app[RUNTIME], request.app[REPLIES]
    cmd_id = f"u{user_id}:{request_id}" if request_id else f"u{user_id}:{secrets.token_urlsafe(12)}"
    msg = CfdRequest(msg_id=replies.new_id(), reply_to=runtime.names.reply(request.app[SETTINGS].node_name),
                     user_id=user_id, cmd_id=cmd_id, action=action, params=params)
    stream = runtime.names.executor(shard_of(user_id, request.app[SETTINGS].executor_shards))
    hint = f"; retry with clientRequestId {request_id} to find out without doing it twice" if request_id else ""
    return await ask_actor(request, stream, msg, "desk", hint)


@routes.post("/api/cfd/transfer")
async def transfer(request: web.Request) -> web.Response:
    claims = await require_user(request, scope="cfd")
    request_id, params = parse_cfd_transfer(await read_json(request))
    return await _ask(request, claims.user_id, "TRANSFER", params, request_id)


@routes.post("/api/cfd/positions")
async def open_position(request: web.Request) -> web.Response:
    claims = await require_user(request, scope="cfd")
    request_id, params = parse_cfd_open(await read_json(request))
    if params["symbol"] not in request.app[RUNTIME].specs:
        raise Problem(400, f"symbol must be one of {', '.join(request.app[RUNTIME].specs)}", field="symbol")
    return await _ask(request, claims.user_id, "OPEN", params, request_id)


@routes.get("/api/cfd/positions")
async def list_positions(request: web.Request) -> web.Response:
    claims = await require_user(request)
    status = request.query.get("status", "open")
    if status not in ("open", "closed"):
        raise Problem(400, "status must be open or closed", field="status")
    rows = await in_db(request, cfd_positions, claims.user_id, status, await _quotes(request))
    return web.json_response({"positions": rows})


@routes.get("/api/cfd/positions/{position_id}")
async def get_position(request: web.Request) -> web.Response:
    claims = await require_user(request)
    pid = _position_id(request)
    found = await in_db(request, cfd_position, claims.user_id, pid, await _quotes(request))
    if found is None:  # another user's position looks exactly like a missing one
        raise Problem(404, f"position {pid} does not exist", code="UNKNOWN_POSITION")
    return web.json_response(found)


@routes.patch("/api/cfd/positions/{position_id}")
async def amend_position(request: web.Request) -> web.Response:
    claims = await require_user(request, scope="cfd")
    pid = _position_id(request)
    params = parse_cfd_amend(await read_json(request))
    return await _ask(request, claims.user_id, "AMEND", {**params, "positionId": pid})


@routes.delete("/api/cfd/positions/{position_id}")
async def close_position(request: web.Request) -> web.Response:
    claims = await require_user(request, scope="cfd")
    pid = _position_id(request)
    # Closing a position is one intent however often it is asked for: a retry never closes anything else.
    return await _ask(request, claims.user_id, "CLOSE", {"positionId": pid}, f"close-{pid}")


@routes.get("/api/cfd/account")
async def account(request: web.Request) -> web.Response:
    claims = await require_user(request)
    return web.json_response(await in_db(request, cfd_account, claims.user_id, await _quotes(request)))
