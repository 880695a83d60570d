"""The WebSocket endpoint: the ticket, the upgrade, the snapshot and the client protocol.

The long-lived JWT never appears in a URL: clients trade it for a 30-second single-use ticket.
The hub that pushes events is web/ws_hub.py; every frame is rendered by web/ws_render.py. A subscription
may add the `book` and `trades` channels for its symbols (BOOK_UPDATE, TRADE; the book's current state
is sent at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time

import redis
from aiohttp import WSMsgType, web

from app.domain.book import DEPTH
from app.domain.candles import INTERVALS
from app.queries import snapshot
from app.schemas import SchemaError, parse_client_frame
from app.security.tokens import Claims
from web.app_keys import HUB, MARKET_DATA, REDIS, RUNTIME, SETTINGS, WS_SLOTS
from web.auth import alive_until, require_user
from web.auth_guard import SessionEnded
from web.plumbing import in_db
from web.problems import Problem
from web.ratelimit import ticket_rate_limit
from web.session import origin_ok
from web.ws_hub import Connection
from web.ws_render import book_snapshot_frame, dumps_frame, error_frame, price_frame, snapshot_frame, status_frame

log = logging.getLogger("troupe.ws")
routes = web.RouteTableDef()

TICKET_TTL_S = 30
MAX_SUBSCRIPTIONS = 50


@routes.post("/api/ws-ticket")
async def ws_ticket(request: web.Request) -> web.Response:
    claims = await require_user(request)
    await ticket_rate_limit(request, claims.user_id)
    ticket = secrets.token_urlsafe(24)
    value = f"{claims.user_id}:{claims.token_version}:{claims.sid}:{claims.exp}"
    await request.app[REDIS].set(request.app[RUNTIME].names.ws_ticket(ticket), value, ex=TICKET_TTL_S)
    return web.json_response({"ticket": ticket, "expiresIn": TICKET_TTL_S})


@routes.get("/ws")
async def ws_handler(request: web.Request) -> web.WebSocketResponse:
    if not origin_ok(request):  # no Origin: not a browser; the ticket alone authenticates
        raise Problem(403, "WebSocket connections are accepted from this site's pages only", code="FORBIDDEN")
    ticket = request.query.get("ticket", "")
    if not ticket or len(ticket) > 64:
        raise Problem(401, "connect with ?ticket= from POST /api/ws-ticket", code="UNAUTHORIZED")
    raw = await request.app[REDIS].getdel(request.app[RUNTIME].names.ws_ticket(ticket))
    if raw is None:
        raise Problem(401, "the ticket is unknown, used or expired; ask for a new one", code="UNAUTHORIZED")
    user_id, version, sid, exp = raw.decode().split(":")
    claims = Claims(int(user_id), int(version), sid, int(exp))
    try:  # the session may have ended since the ticket was issued
        ends_at = await alive_until(request, claims)
    except SessionEnded:
        raise Problem(401, "this session has ended; sign in again", code="UNAUTHORIZED") from None
    async with request.app[WS_SLOTS].hold(claims.user_id):  # 429 before the upgrade when the user is at the cap
        return await _serve(request, claims, ends_at)


async def _serve(request: web.Request, claims: Claims, ends_at: float) -> web.WebSocketResponse:
    """`ends_at`: the session's own end (epoch s), not its short access token's: renewals keep it open."""
    # No permessage-deflate: market frames are a few hundred bytes, and deflating each one once per
    # subscriber (each socket has its own compressor) is what a fan-out to thousands cannot afford.
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=16 * 1024, compress=False)
    await ws.prepare(request)
    conn = Connection(ws, claims)
    hub = request.app[HUB]
    hub.add(conn)  # events queue up from now on; the snapshot goes out first
    sender: asyncio.Task[None] | None = None
    expiry = asyncio.get_running_loop().call_later(max(0.0, ends_at - time.time()), conn.end, "session expired")
    try:
        marks = await request.app[MARKET_DATA].marks()
        snap = await in_db(request, snapshot, conn.user_id, marks, request.app[SETTINGS].exchange)
        for position in snap["cfdPositions"]:
            conn.track_open_cfd(position)
        await ws.send_str(snapshot_frame(snap))
        sender = asyncio.create_task(conn.pump(request.transport))
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                if msg.type is WSMsgType.BINARY:
                    _offer_direct(conn, error_frame("send text frames holding JSON; binary frames are not used"))
                continue
            try:
                reply = await _client_message(request, conn, msg.data)
            except (redis.ConnectionError, redis.TimeoutError) as exc:  # the socket stays open
                log.warning("WebSocket of user %s: a backing service is unavailable: %s", conn.user_id, exc)
                reply = error_frame("a backing service is briefly unavailable: the subscription holds, but the "
                                    "current prices could not be read; they follow with the next ticks")
            if reply is not None:
                _offer_direct(conn, reply)
    finally:
        expiry.cancel()
        hub.remove(conn)
        if sender is not None:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await sender
    return ws


def _offer_direct(conn: Connection, frame: str) -> None:
    with contextlib.suppress(asyncio.QueueFull):
        conn.queue.put_nowait(frame)


async def _client_message(request: web.Request, conn: Connection, data: str) -> str | None:
    """The answer to one client frame; a malformed frame gets an ERROR frame, never an exception."""
    try:
        frame = parse_client_frame(data)
    except SchemaError as exc:
        return error_frame(exc.message)
    specs = request.app[RUNTIME].specs
    if frame.type == "ping":
        return dumps_frame({"type": "pong"})
    if frame.type not in ("subscribe", "unsubscribe"):
        return error_frame(f"unknown message type {frame.type[:40]!r}")
    symbols = frame.symbols
    if not all(s in specs for s in symbols):
        return error_frame(f"symbols must be a list drawn from {', '.join(specs)}")
    hub = request.app[HUB]
    if frame.type == "unsubscribe":
        hub.unsubscribe(conn, symbols)
        return dumps_frame({"type": "SUBSCRIPTIONS", "symbols": sorted(conn.symbols), "interval": conn.interval})
    interval = conn.interval if frame.interval is None else frame.interval
    if interval not in INTERVALS:
        return error_frame(f"interval must be one of {', '.join(INTERVALS)}")
    if len(conn.symbols | set(symbols)) > MAX_SUBSCRIPTIONS:
        return error_frame(f"at most {MAX_SUBSCRIPTIONS} symbols per connection")
    hub.subscribe(conn, symbols, book="book" in frame.channels, trades="trades" in frame.channels)
    conn.interval = interval
    conn.cfd_pnl_ms = conn.cfd_pnl_ms if frame.cfd_pnl_ms is None else frame.cfd_pnl_ms
    ticks = await request.app[MARKET_DATA].latest_ticks()
    stale = await request.app[MARKET_DATA].stale_since()
    for s in symbols:
        if s in ticks:
            _offer_direct(conn, price_frame(ticks[s]))
        if s in stale:
            _offer_direct(conn, status_frame(s, True, stale[s]))
        if "book" in frame.channels and (book := await request.app[MARKET_DATA].depth(s, DEPTH)) is not None:
            _offer_direct(conn, book_snapshot_frame(s, book))
    return dumps_frame({"type": "SUBSCRIPTIONS", "symbols": sorted(conn.symbols), "interval": conn.interval})
