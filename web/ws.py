"""The WebSocket endpoint and the hub that fans events out to this node's browsers.

Each connection has a bounded send queue drained by its own task, so one stalled browser never
delays the others; a connection whose queue fills up is closed (1013) and resyncs on reconnect.
The long-lived JWT never appears in a URL: clients trade it for a 30-second single-use ticket.
A socket lives no longer than its session: it is closed with code 4001 (SESSION_ENDED) when the
token it was opened with expires, or as soon as its session or account is ended on any node.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from decimal import Decimal
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from app.cfd.rules import Direction, mark_and_upnl
from app.domain.candles import INTERVALS
from app.messages import CandleUpdate, EventBatch, MarketStatus, Message, PriceTick
from app.messaging.auth_notices import AuthNotice
from app.money import to_str
from app.queries import snapshot
from app.schemas import SchemaError, parse_client_frame
from app.security.tokens import Claims
from web.auth_guard import SessionEnded
from web.keys import GUARD, HUB, REDIS, RUNTIME, SETTINGS, WS_SLOTS
from web.market_views import latest_ticks, marks, stale_since
from web.problems import Problem
from web.ratelimit import ticket_rate_limit
from web.security import in_db, require_user
from web.session import origin_ok

log = logging.getLogger("troupe.ws")
routes = web.RouteTableDef()

TICKET_TTL_S = 30
SESSION_ENDED = 4001  # application close code: sign in again, do not reconnect with the old session
MAX_QUEUE = 2000
MAX_SUBSCRIPTIONS = 50


def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"))


def price_frame(tick: PriceTick) -> str:
    return _dumps({"type": "PRICE_UPDATE", "symbol": tick.symbol, "price": to_str(tick.price),
                   "bid": to_str(tick.bid), "ask": to_str(tick.ask), "ts": tick.ts})


def status_frame(symbol: str, stale: bool, since: int) -> str:
    return _dumps({"type": "MARKET_STATUS", "symbol": symbol, "stale": stale, "since": since})


def event_frame(kind: str, payload: dict[str, Any]) -> str:
    """A user event as sent to browsers; an order's own type travels as `orderType`."""
    data = dict(payload)
    if "type" in data:
        data["orderType"] = data.pop("type")
    return _dumps({"type": kind, **data, "ts": data.get("updateTime")})


class Connection:
    def __init__(self, ws: web.WebSocketResponse, claims: Claims) -> None:
        self.ws = ws
        self.user_id = claims.user_id
        self.sid = claims.sid
        self.symbols: set[str] = set()
        self.interval = "1m"
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(MAX_QUEUE)
        self.closing = False
        # Open CFD positions (id -> (symbol, direction, entry, quantity)) for live PnL pushes, and
        # the least milliseconds between two pushes the client asked for (0: every tick).
        self.cfd: dict[int, tuple[str, Direction, Decimal, Decimal]] = {}
        self.cfd_pnl_ms = 0
        self.cfd_pushed_at: dict[str, float] = {}

    def track_cfd(self, event: dict[str, Any]) -> None:
        position = event.get("position")
        if not isinstance(position, dict):
            return
        if event.get("event") in ("OPENED", "UPDATED"):
            self.cfd[int(position["id"])] = (position["symbol"], Direction(position["direction"]),
                                             Decimal(position["entryPrice"]), Decimal(position["quantity"]))
        else:
            self.cfd.pop(int(position["id"]), None)

    def pnl_frame(self, tick: PriceTick) -> str | None:
        """Live PnL of this user's open CFD positions on `tick`'s symbol, at most every cfd_pnl_ms."""
        mine = [(pid, d, e, q) for pid, (s, d, e, q) in self.cfd.items() if s == tick.symbol]
        now = time.monotonic()
        if not mine or (now - self.cfd_pushed_at.get(tick.symbol, 0.0)) * 1000 < self.cfd_pnl_ms:
            return None
        self.cfd_pushed_at[tick.symbol] = now
        rows = []
        for pid, direction, entry, qty in sorted(mine):
            mark, upnl = mark_and_upnl(direction, entry, qty, tick.bid, tick.ask)
            rows.append({"id": pid, "markPrice": to_str(mark), "unrealizedPnl": to_str(upnl)})
        return _dumps({"type": "CFD_UPDATE", "event": "PNL", "symbol": tick.symbol, "positions": rows,
                       "ts": tick.ts})

    async def pump(self) -> None:
        while (frame := await self.queue.get()) is not None:
            await self.ws.send_str(frame)

    def end(self, reason: str) -> None:
        """Close because the session is over (the client must sign in again)."""
        self.closing = True
        asyncio.get_running_loop().create_task(self.ws.close(code=SESSION_ENDED, message=reason.encode()[:120]))


class WsHub:
    def __init__(self) -> None:
        self.connections: set[Connection] = set()
        self.by_user: dict[int, set[Connection]] = {}

    def add(self, conn: Connection) -> None:
        self.connections.add(conn)
        self.by_user.setdefault(conn.user_id, set()).add(conn)

    def remove(self, conn: Connection) -> None:
        self.connections.discard(conn)
        users = self.by_user.get(conn.user_id)
        if users is not None:
            users.discard(conn)
            if not users:
                del self.by_user[conn.user_id]

    def _offer(self, conn: Connection, frame: str) -> None:
        if conn.closing:
            return
        try:
            conn.queue.put_nowait(frame)
        except asyncio.QueueFull:
            conn.closing = True
            log.warning("closing a WebSocket of user %s: it is not reading (queue full)", conn.user_id)
            asyncio.get_running_loop().create_task(
                conn.ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too slow; reconnect to resync"))

    def dispatch(self, messages: list[Message]) -> None:
        """Called on the event loop with a batch from the Broadcaster; never awaits a socket."""
        for msg in messages:
            if isinstance(msg, PriceTick):
                frame = price_frame(msg)
                for conn in self.connections:
                    if msg.symbol in conn.symbols:
                        self._offer(conn, frame)
                        if conn.cfd and (pnl := conn.pnl_frame(msg)) is not None:
                            self._offer(conn, pnl)
            elif isinstance(msg, CandleUpdate):
                frames: dict[str, str] = {}
                for conn in self.connections:
                    if msg.symbol in conn.symbols and conn.interval in msg.candles:
                        frame = frames.get(conn.interval)
                        if frame is None:
                            frame = frames[conn.interval] = _dumps({
                                "type": "CANDLE_UPDATE", "symbol": msg.symbol, "interval": conn.interval,
                                "candle": msg.candles[conn.interval]})
                        self._offer(conn, frame)
            elif isinstance(msg, MarketStatus):
                frame = status_frame(msg.symbol, msg.stale, msg.since)
                for conn in self.connections:
                    if msg.symbol in conn.symbols:
                        self._offer(conn, frame)
            elif isinstance(msg, EventBatch):
                for event in msg.events:
                    conns = self.by_user.get(event["user_id"])
                    if conns:
                        frame = event_frame(event["kind"], event["data"])
                        for conn in conns:
                            if event["kind"] == "CFD_UPDATE":
                                conn.track_cfd(event["data"])
                            self._offer(conn, frame)

    def end_sessions(self, notice: AuthNotice) -> None:
        """A session (or every session of an account) ended: close its sockets on this node."""
        if notice.user_id is not None:
            ended = list(self.by_user.get(notice.user_id, ()))
        else:
            ended = [conn for conn in self.connections if conn.sid == notice.sid]
        for conn in ended:
            conn.end(notice.reason)

    async def close_all(self) -> None:
        for conn in list(self.connections):
            await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")


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
        await request.app[GUARD].check(claims)
    except SessionEnded:
        raise Problem(401, "this session has ended; sign in again", code="UNAUTHORIZED") from None
    async with request.app[WS_SLOTS].hold(claims.user_id):  # 429 before the upgrade when the user is at the cap
        return await _serve(request, claims)


async def _serve(request: web.Request, claims: Claims) -> web.WebSocketResponse:
    """The upgraded connection: the snapshot, then events and the client's messages until it closes."""
    ws = web.WebSocketResponse(heartbeat=20, max_msg_size=16 * 1024)
    await ws.prepare(request)
    conn = Connection(ws, claims)
    hub = request.app[HUB]
    hub.add(conn)  # events queue up from now on; the snapshot goes out first
    sender: asyncio.Task[None] | None = None
    expiry = asyncio.get_running_loop().call_later(max(0.0, claims.exp - time.time()), conn.end, "session expired")
    try:
        snap = await in_db(request, snapshot, conn.user_id, await marks(request.app), request.app[SETTINGS].exchange)
        for position in snap["cfdPositions"]:
            conn.track_cfd({"event": "OPENED", "position": position})
        await ws.send_str(_dumps({"type": "SNAPSHOT", **snap}))
        sender = asyncio.create_task(conn.pump())
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                if msg.type is WSMsgType.BINARY:
                    _offer_direct(conn, _error_frame("send text frames holding JSON; binary frames are not used"))
                continue
            reply = await _client_message(request, conn, msg.data)
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


def _error_frame(detail: str) -> str:
    return _dumps({"type": "ERROR", "detail": detail})


async def _client_message(request: web.Request, conn: Connection, data: str) -> str | None:
    """The answer to one client frame; a malformed frame gets an ERROR frame, never an exception."""
    try:
        frame = parse_client_frame(data)
    except SchemaError as exc:
        return _error_frame(exc.message)
    specs = request.app[RUNTIME].specs
    if frame.type == "ping":
        return _dumps({"type": "pong"})
    if frame.type not in ("subscribe", "unsubscribe"):
        return _error_frame(f"unknown message type {frame.type[:40]!r}")
    symbols = frame.symbols
    if not all(s in specs for s in symbols):
        return _error_frame(f"symbols must be a list drawn from {', '.join(specs)}")
    if frame.type == "unsubscribe":
        conn.symbols.difference_update(symbols)
        return _dumps({"type": "SUBSCRIPTIONS", "symbols": sorted(conn.symbols), "interval": conn.interval})
    interval = conn.interval if frame.interval is None else frame.interval
    if interval not in INTERVALS:
        return _error_frame(f"interval must be one of {', '.join(INTERVALS)}")
    if len(conn.symbols | set(symbols)) > MAX_SUBSCRIPTIONS:
        return _error_frame(f"at most {MAX_SUBSCRIPTIONS} symbols per connection")
    conn.symbols.update(symbols)
    conn.interval = interval
    conn.cfd_pnl_ms = conn.cfd_pnl_ms if frame.cfd_pnl_ms is None else frame.cfd_pnl_ms
    ticks = await latest_ticks(request.app)
    stale = await stale_since(request.app)
    for s in symbols:
        if s in ticks:
            _offer_direct(conn, price_frame(ticks[s]))
        if s in stale:
            _offer_direct(conn, status_frame(s, True, stale[s]))
    return _dumps({"type": "SUBSCRIPTIONS", "symbols": sorted(conn.symbols), "interval": conn.interval})
