"""Binance's user data, at the socket: the WebSocket API (`/ws-api/v3`), the listen keys
(`/api/v3/userDataStream`) and their streams (`/ws/<listenKey>`), and `UserData`, the hub that hands
each user's events to the sockets subscribed with one of that user's keys.

The WebSocket API's requests run the REST routes' code (web/binance/views.py) with the socket's
upgrade request: the same verification (edge.signed_claims), the same commands to the Gateway
carrying the key's id, the same answers and Binance errors. Its parameters are the frame's (pure
side: app/binance_api/ws_api.py). Events are rendered by app/binance_api/user_frames.py, in each
socket's own task: a socket has a bounded queue, and one that stops reading is closed (1013), never
delaying another. A revoked key, or a disabled account, ends its subscriptions on every node (the
auth notice, as for the browser's sockets). Listen keys live in Redis with their TTL, so every web
process knows them; a listen key's stream closes with `listenKeyExpired` once its key is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import string
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from app import metrics
from app.api_keys import (
    RECV_WINDOW_DEFAULT_MS,
    RECV_WINDOW_MAX_MS,
    signed_fields,
    within_recv_window,
)
from app.binance_api import params as bp
from app.binance_api import queries
from app.binance_api import ws_api as wa
from app.binance_api.errors import INVALID_KEY, BinanceError, mandatory, too_much_weight
from app.binance_api.user_frames import (
    TradeRef,
    frames_of,
    list_status,
    listen_key_expired,
    stream_terminated,
    wrapped,
)
from app.clock import now_ms
from app.events import OrderUpdated, UserEvent
from app.messages import EventBatch, Message
from app.messaging.auth_notices import AuthNotice
from app.security.tokens import Claims
from web.api_key_auth import API_KEY_HEADER, check_address, live_key
from web.app_keys import API_KEYS, DB_POOL, REDIS, RUNTIME
from web.binance import views
from web.binance.edge import EDGE, endpoint, outside_recv_window, params_of, signed_claims
from web.plumbing import client_address, in_pool
from web.problems import Problem

log = logging.getLogger("troupe.ws")
routes = web.RouteTableDef()

LISTEN_KEY_LENGTH = 60
LISTEN_KEY_TTL_S = 3600  # Binance: a listen key lives 60 minutes unless kept alive
MAX_QUEUE = 2000
MAX_LISTS = 1000  # order lists whose last listStatus a socket remembers
MAX_IN_FLIGHT = 32  # requests of one WebSocket API connection answered concurrently
_ALPHABET = string.ascii_letters + string.digits
Outgoing = tuple["Subscription", UserEvent] | dict[str, Any] | None


MAX_READS = 512  # recent reads kept for the other sockets rendering the same event


class Reads:
    """What rendering an event needs from the database beyond the event: its fills' rows, a list's legs.

    One per node: each read is made once per event (an order's update is named by its id and version)
    and shared by every socket of the user that renders it, not repeated socket by socket."""

    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._recent: OrderedDict[tuple[Any, ...], asyncio.Future[Any]] = OrderedDict()

    def _once(self, key: tuple[Any, ...], read: Callable[[], Awaitable[Any]]) -> asyncio.Future[Any]:
        found = self._recent.get(key)
        if found is None:
            found = self._recent[key] = asyncio.ensure_future(read())
            if len(self._recent) > MAX_READS:
                self._recent.popitem(last=False)
        return found

    async def trades(self, event: OrderUpdated) -> Mapping[int, TradeRef]:
        async def read() -> Mapping[int, TradeRef]:
            got = await in_pool(self._app[DB_POOL], queries.order_with_fills, event.user_id, event.order.id)
            return {} if got is None else {f.seq: TradeRef(f.id, f.quote_qty) for f in got[1]}
        return await asyncio.shield(self._once(("trades", event.user_id, event.order.id, event.order.version), read))

    async def legs(self, event: OrderUpdated, list_id: int) -> list[Any] | None:
        async def read() -> list[Any] | None:
            return await in_pool(self._app[DB_POOL], queries.order_list, event.user_id, list_id, None)
        key = ("legs", event.user_id, list_id, event.order.id, event.order.version)
        return await asyncio.shield(self._once(key, read))


class Socket:
    """One user-data socket: its bounded queue (answers and events in order) and the task writing it."""

    def __init__(self, ws: web.WebSocketResponse, reads: Reads) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[Outgoing] = asyncio.Queue(MAX_QUEUE)
        self.closing = False
        self._reads = reads
        self._lists: OrderedDict[int, str] = OrderedDict()  # the listStatusType last sent per order list

    def offer(self, item: Outgoing) -> None:
        if self.closing:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.close(WSCloseCode.TRY_AGAIN_LATER, "too slow; reconnect")
            metrics.WS_DROPPED.inc()
            log.warning("closing a user data socket: it is not reading (queue full)")

    def close(self, code: int, reason: str) -> None:
        if not self.closing:
            self.closing = True
            asyncio.get_running_loop().create_task(self.ws.close(code=code, message=reason.encode()[:120]))

    async def pump(self) -> None:
        try:
            while (item := await self.queue.get()) is not None:
                for body in await self._bodies(item):
                    await self.ws.send_str(json.dumps(body, separators=(",", ":")))
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception:  # a failed read or render closes this socket (the client resubscribes), never others
            log.exception("user data socket: an event could not be sent; closing it")
            self.closing = True
            await self.ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"internal error; reconnect")
            return
        self.closing = True
        await self.ws.close()  # None: the server ends this stream (a listen key expired)

    async def _bodies(self, item: tuple[Subscription, UserEvent] | dict[str, Any]) -> list[dict[str, Any]]:
        """What one queued item sends: an answer as it is, an event as its Binance frames."""
        if isinstance(item, dict):
            return [item]
        sub, event = item
        if not sub.live:
            return []
        trades: Mapping[int, TradeRef] = {}
        if isinstance(event, OrderUpdated) and event.fills:
            trades = await self._reads.trades(event)
        frames = frames_of(event, now_ms(), trades)
        if isinstance(event, OrderUpdated) and event.order.order_list_id is not None:
            frames += await self._list_status(event, event.order.order_list_id)
        return frames if sub.subscription_id is None else [wrapped(sub.subscription_id, f) for f in frames]

    async def _list_status(self, event: OrderUpdated, list_id: int) -> list[dict[str, Any]]:
        """The list's listStatus when its status type moved since this socket last sent one."""
        legs = await self._reads.legs(event, list_id)
        if not legs:
            return []
        frame = list_status(legs, now_ms())
        if self._lists.get(list_id) == frame["l"]:
            return []
        self._lists[list_id] = frame["l"]
        self._lists.move_to_end(list_id)
        if len(self._lists) > MAX_LISTS:
            self._lists.popitem(last=False)
        return [frame]


@dataclass(eq=False, slots=True)
class Subscription:
    """A user's events on a socket, for as long as the key that opened it lives; `subscription_id`:
    the WebSocket API's (events wrapped), None for a listen key's stream (events as they are)."""

    socket: Socket
    user_id: int
    key_id: int | None
    subscription_id: int | None
    live: bool = True


@dataclass(slots=True)
class UserData:
    """This node's user-data subscriptions by user, fed the Broadcaster's batches (web/app.py)."""

    reads: Reads | None = None  # the node's one Reads (web/app.py)
    by_user: dict[int, set[Subscription]] = field(default_factory=dict)
    listen_key_ttl_s: int = LISTEN_KEY_TTL_S
    expiry_check_s: float = 5.0  # how often a listen key's stream checks that its key still lives

    def add(self, sub: Subscription) -> None:
        self.by_user.setdefault(sub.user_id, set()).add(sub)

    def remove(self, sub: Subscription) -> None:
        sub.live = False
        subs = self.by_user.get(sub.user_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self.by_user[sub.user_id]

    def dispatch(self, messages: list[Message]) -> None:
        """On the event loop; never awaits a socket."""
        for msg in messages:
            if isinstance(msg, EventBatch):
                for event in msg.events:
                    for sub in self.by_user.get(event.user_id, ()):
                        sub.socket.offer((sub, event))

    def end_keys(self, notice: AuthNotice | None) -> None:
        """A revoked key, or a disabled account, ends its subscriptions on every node at once. Without a
        notice (some may have been missed) nothing ends here: each socket checks its keys every
        `expiry_check_s` anyway (`watch_keys`)."""
        if notice is None:
            return
        for sub in [s for subs in self.by_user.values() for s in subs
                    if (notice.user_id is not None and s.user_id == notice.user_id)
                    or (notice.key_id is not None and s.key_id == notice.key_id)]:
            self.end(sub, notice.reason)

    def end(self, sub: Subscription, reason: str) -> None:
        """A listen key's stream is closed; a WebSocket API subscription gets `eventStreamTerminated`
        (its connection stays)."""
        self.remove(sub)
        if sub.subscription_id is None:
            sub.socket.close(WSCloseCode.POLICY_VIOLATION, reason)
        else:
            sub.socket.offer(wrapped(sub.subscription_id, stream_terminated(now_ms())))

    async def close_all(self) -> None:
        sockets = {s.socket for subs in self.by_user.values() for s in subs}
        for sock in sockets:
            await sock.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")


USER_DATA: web.AppKey[UserData] = web.AppKey("user_data", UserData)


async def _serve(request: web.Request, socket: Socket, reader: Callable[[], Awaitable[None]],
                 subs: list[Subscription]) -> None:
    """Run the socket's writer and its key check beside `reader` until it ends; then drop its subscriptions."""
    pump = asyncio.create_task(socket.pump())
    keys = asyncio.create_task(_watch_keys(request, subs))
    try:
        await reader()
    finally:
        for sub in subs:
            request.app[USER_DATA].remove(sub)
        socket.closing = True
        for task in (pump, keys):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await task


async def _watch_keys(request: web.Request, subs: list[Subscription]) -> None:
    """Every `expiry_check_s`, end the subscriptions whose key expired or was revoked unnoticed (the
    key cache answers from memory; a dropped notice subscription has emptied it)."""
    hub = request.app[USER_DATA]
    while True:  # a key's expiry and a missed notice come with no event: looked at on a timer
        await asyncio.sleep(hub.expiry_check_s)
        for sub in [s for s in subs if s.live and s.key_id is not None]:
            assert sub.key_id is not None
            entry = await request.app[API_KEYS].by_id(sub.key_id)
            if entry is None or entry.claims.user_id != sub.user_id or (
                    entry.expires_at is not None and now_ms() >= entry.expires_at):
                hub.end(sub, "API key revoked or expired")


# --- the WebSocket API ------------------------------------------------------------------------------

@dataclass(slots=True)
class Session:
    """One WebSocket API connection's state; `logon`: the key session.logon authenticated it with."""

    socket: Socket
    connected_since: int
    subs: list[Subscription] = field(default_factory=list)
    next_id: int = 0
    logon: Claims | None = None
    api_key: str | None = None
    authorized_since: int | None = None

    def live(self) -> list[Subscription]:
        """The subscriptions not ended (by unsubscribe, or their key's end)."""
        self.subs[:] = [s for s in self.subs if s.live]
        return self.subs

    def status(self) -> dict[str, Any]:
        return wa.session_status(self.api_key, self.authorized_since, self.connected_since, bool(self.live()),
                                 now_ms())


async def _signed(request: web.Request, session: Session, p: bp.Params, permission: str | None) -> Claims:
    """A signed request's key, verified as on REST (its parameters are the frame's); in a session
    authenticated with session.logon, a request without `signature` is its key's (timestamp still
    checked, and the key still live)."""
    if "signature" not in p and session.logon is not None:
        return await _session_key(request, session, p, permission)
    api_key = p.get("apiKey")
    if not api_key:
        raise mandatory("apiKey")
    raw, also = wa.payloads(p)
    return await signed_claims(request.app, api_key, p, lambda: signed_fields(dict(p), raw, also),
                               client_address(request), permission)


async def _session_key(request: web.Request, session: Session, p: bp.Params, permission: str | None) -> Claims:
    assert session.logon is not None and session.logon.key_id is not None
    if not p.get("timestamp", "").isdigit():
        raise mandatory("timestamp")
    window = bp.integer(p, "recvWindow", RECV_WINDOW_DEFAULT_MS, 1, RECV_WINDOW_MAX_MS) or RECV_WINDOW_DEFAULT_MS
    now = now_ms()
    if not within_recv_window(int(p["timestamp"]), window, now):
        raise outside_recv_window(int(p["timestamp"]))
    entry = await request.app[API_KEYS].by_id(session.logon.key_id)
    if entry is None or entry.claims.user_id != session.logon.user_id or (
            entry.expires_at is not None and now >= entry.expires_at):
        session.logon = session.api_key = session.authorized_since = None
        raise BinanceError(-2015, INVALID_KEY, 401)
    try:
        check_address(entry, client_address(request))
    except Problem:
        raise BinanceError(-2015, INVALID_KEY, 401) from None
    if permission is not None and permission not in (entry.claims.permissions or frozenset()):
        raise BinanceError(-2015, INVALID_KEY, 401)
    return entry.claims


def _unsigned(p: bp.Params) -> bp.Params:
    return {k: v for k, v in p.items() if k not in wa.SESSION_PARAMS}


async def _run(request: web.Request, session: Session, req: wa.Request) -> Any:
    """The result of one request, or BinanceError."""
    p = req.params
    if req.method == "ping":
        return {}
    if req.method == "time":
        return {"serverTime": now_ms()}
    if req.method == "session.status":
        return session.status()
    if req.method == "session.logout":
        session.logon = session.api_key = session.authorized_since = None
        return session.status()
    if req.method == "session.subscriptions":
        return [{"subscriptionId": s.subscription_id} for s in session.live()]
    if req.method == "userDataStream.unsubscribe":
        return _unsubscribe(request, session, p)
    needs = wa.METHODS[req.method].permission
    if req.method == "session.logon":
        if "signature" not in p:
            raise mandatory("signature")
        claims = await _signed(request, session, p, None)
        session.logon, session.api_key, session.authorized_since = claims, p["apiKey"], now_ms()
        return session.status()
    if req.method == "userDataStream.subscribe" and session.logon is None:
        raise BinanceError(-1002, "You are not authorized to execute this request.", 401)
    if req.method == "userDataStream.subscribe":
        p = {"timestamp": str(now_ms()), **p}  # no parameters: the session's key subscribes
    claims = await _signed(request, session, p, None if needs == "any" else needs)
    q = _unsigned(p)
    if req.method in ("userDataStream.subscribe.signature", "userDataStream.subscribe"):
        bp.only(q, ())
        sub = Subscription(session.socket, claims.user_id, claims.key_id, session.next_id)
        session.next_id += 1
        session.subs.append(sub)
        request.app[USER_DATA].add(sub)
        return {"subscriptionId": sub.subscription_id}
    if req.method == "order.place":
        order, resp_type = bp.new_order(q, views.specs_of(request), views.new_client_id())
        return await views.place(request, claims, order, resp_type)
    if req.method == "order.test":
        return views.check_order(request, q)
    if req.method == "order.cancel":
        return await views.cancel_one(request, claims, q)
    if req.method == "order.status":
        return await views.order_status(request, claims, q)
    if req.method == "openOrders.status":
        return await views.open_orders_of(request, claims, q)
    return await views.account_of(request, claims)  # account.status


def _unsubscribe(request: web.Request, session: Session, p: bp.Params) -> dict[str, Any]:
    """One subscription by `subscriptionId`, or all of the connection's."""
    wanted = bp.integer(p, "subscriptionId")
    ended = [s for s in session.live() if wanted is None or s.subscription_id == wanted]
    if wanted is not None and not ended:
        raise BinanceError(-1130, "Data sent for parameter 'subscriptionId' is not valid.")
    for sub in ended:
        request.app[USER_DATA].remove(sub)
        session.subs.remove(sub)
    return {}


def _weight(request: web.Request, req: wa.Request) -> int:
    if req.method == "openOrders.status" and not req.params.get("symbol"):
        return wa.ALL_OPEN_ORDERS_WEIGHT
    return wa.METHODS[req.method].weight


async def _answer(request: web.Request, session: Session, text: str | bytes) -> dict[str, Any]:
    """The answer frame to one request frame (never raises but for cancellation)."""
    meter = request.app[EDGE].meter
    try:
        req = wa.parse_request(text)
    except wa.FrameError as exc:
        used, _ = meter.spend(client_address(request), 1, now_ms())
        return wa.error_frame(exc.request_id, exc.error, wa.rate_limits(meter.limit, used))
    used, wait_s = meter.spend(client_address(request), _weight(request, req), now_ms())
    limits = wa.rate_limits(meter.limit, used) if req.wants_limits else None
    try:
        if wait_s is not None:
            raise too_much_weight(meter.limit, wait_s)
        return wa.result_frame(req.id, await _run(request, session, req), limits)
    except BinanceError as exc:
        return wa.error_frame(req.id, exc, limits)
    except Exception:  # a bug must cost one answer, never the connection
        log.exception("WebSocket API: %s failed", req.method)
        return wa.error_frame(req.id, BinanceError(-1000, "An unknown error occurred while processing the "
                                                          "request.", 500), limits)


def _reads(request: web.Request) -> Reads:
    reads = request.app[USER_DATA].reads
    assert reads is not None
    return reads


@routes.get("/ws-api/v3")
async def ws_api(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=64 * 1024)
    await ws.prepare(request)
    session = Session(Socket(ws, _reads(request)), now_ms())
    in_flight: set[asyncio.Task[None]] = set()

    async def respond(text: str | bytes) -> None:
        session.socket.offer(await _answer(request, session, text))

    async def read() -> None:
        try:
            async for msg in ws:
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                if len(in_flight) >= MAX_IN_FLIGHT:
                    session.socket.offer(wa.error_frame(None, BinanceError(
                        -1003, "Too many requests queued.", 429), None))
                    continue
                task = asyncio.create_task(respond(msg.data))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
        finally:
            for task in list(in_flight):
                task.cancel()

    await _serve(request, session.socket, read, session.subs)
    return ws


# --- listen keys -------------------------------------------------------------------------------------

def _lk(request: web.Request, listen_key: str) -> str:
    return f"{request.app[RUNTIME].names.prefix}:listen-key:{listen_key}"


def _lk_of(request: web.Request, key_id: int) -> str:
    return f"{request.app[RUNTIME].names.prefix}:listen-key-of:{key_id}"


async def _key_only(request: web.Request) -> Claims:
    """USER_STREAM security: the X-MBX-APIKEY header names a live key allowed from here; no signature."""
    api_key = request.headers.get(API_KEY_HEADER)
    if not api_key:
        raise BinanceError(-2014, "API-key format invalid.", 401)
    try:
        entry = await live_key(request.app[API_KEYS], api_key)
        check_address(entry, client_address(request))
    except Problem:
        raise BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401) from None
    return entry.claims


async def _owned(request: web.Request, claims: Claims) -> str:
    """The `listenKey` parameter, if it is one of this key's."""
    p = await params_of(request)
    listen_key = p.get("listenKey")
    if not listen_key:
        raise mandatory("listenKey")
    owner = await request.app[REDIS].get(_lk(request, listen_key))
    if owner is None or owner.decode() != f"{claims.user_id}:{claims.key_id}":
        raise BinanceError(-1125, "This listenKey does not exist.")
    return listen_key


@routes.post("/api/v3/userDataStream")
@endpoint(2)
async def new_listen_key(request: web.Request) -> Any:
    """A listen key for the calling key's user (the key's live one again, kept alive, if it has one)."""
    claims = await _key_only(request)
    assert claims.key_id is not None
    redis, ttl = request.app[REDIS], request.app[USER_DATA].listen_key_ttl_s
    current = await redis.get(_lk_of(request, claims.key_id))
    if current is not None and await redis.expire(_lk(request, current.decode()), ttl):
        await redis.expire(_lk_of(request, claims.key_id), ttl)
        return {"listenKey": current.decode()}
    listen_key = "".join(secrets.choice(_ALPHABET) for _ in range(LISTEN_KEY_LENGTH))
    async with redis.pipeline(transaction=True) as pipe:
        pipe.set(_lk(request, listen_key), f"{claims.user_id}:{claims.key_id}", ex=ttl)
        pipe.set(_lk_of(request, claims.key_id), listen_key, ex=ttl)
        await pipe.execute()
    return {"listenKey": listen_key}


@routes.put("/api/v3/userDataStream")
@endpoint(2)
async def keep_listen_key(request: web.Request) -> Any:
    claims = await _key_only(request)
    assert claims.key_id is not None
    listen_key = await _owned(request, claims)
    ttl = request.app[USER_DATA].listen_key_ttl_s
    async with request.app[REDIS].pipeline(transaction=True) as pipe:  # one round trip, both or neither
        pipe.expire(_lk(request, listen_key), ttl)
        pipe.expire(_lk_of(request, claims.key_id), ttl)
        await pipe.execute()
    return {}


@routes.delete("/api/v3/userDataStream")
@endpoint(2)
async def close_listen_key(request: web.Request) -> Any:
    claims = await _key_only(request)
    assert claims.key_id is not None
    listen_key = await _owned(request, claims)
    await request.app[REDIS].delete(_lk(request, listen_key), _lk_of(request, claims.key_id))
    return {}


@routes.get("/ws/{listen_key:[A-Za-z0-9]{60}}")
async def listen_key_stream(request: web.Request) -> web.StreamResponse:
    """A listen key's user's events, until the key expires (then `listenKeyExpired`) or is revoked."""
    listen_key = request.match_info["listen_key"]
    owner = await request.app[REDIS].get(_lk(request, listen_key))
    user_id, _, key_id = owner.decode().partition(":") if owner is not None else ("", "", "")
    entry = await request.app[API_KEYS].by_id(int(key_id)) if key_id.isdigit() else None
    if entry is None or entry.claims.user_id != int(user_id):
        return web.json_response({"code": -1125, "msg": "This listenKey does not exist."}, status=400)
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=4096)
    await ws.prepare(request)
    hub = request.app[USER_DATA]
    socket = Socket(ws, _reads(request))
    sub = Subscription(socket, int(user_id), int(key_id), None)
    hub.add(sub)

    async def watch_expiry() -> None:
        # A Redis TTL ends without an event: sleep until the key's deadline, then look again (a keepalive
        # or another process may have moved it); at most expiry_check_s, so a DELETE is seen soon too.
        while (left_ms := await request.app[REDIS].pttl(_lk(request, listen_key))) > 0:  # noqa: ASYNC110
            await asyncio.sleep(min(left_ms / 1000, hub.expiry_check_s))
        socket.offer(listen_key_expired(listen_key, now_ms()))
        socket.offer(None)  # the writer stops after the event; then the socket closes

    async def read() -> None:
        expiry = asyncio.create_task(watch_expiry())
        try:
            async for _ in ws:  # a client sends nothing but pings here
                pass
        finally:
            expiry.cancel()

    await _serve(request, socket, read, [sub])
    return ws
