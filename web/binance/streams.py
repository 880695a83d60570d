"""Binance's market streams over WebSocket, on the node's own port: `/ws/<streamName>` (raw), `/stream?streams=
a/b/c` (combined) and `/ws/<anything without @>` (no stream yet, then SUBSCRIBE: ccxt connects to `/ws/0`).
Public, like Binance's. The browser's own socket stays `/ws?ticket=...` (web/ws_views.py).

`StreamHub` is fed every Broadcaster batch by web/app.py's `dispatch` (beside WsHub): it renders each payload
once per batch for every subscriber (app/binance_api/market_frames.py) and queues it on each connection's
bounded queue, never awaiting a socket; a connection that does not read is closed (1013). A one-second timer
sends what Binance sends every second (partial and diff depth without `@100ms`, tickers) and klines every two.
Connections follow Binance's rules: a ping every 20 s answered by a pong within a minute, client pings
answered, at most 5 incoming messages a second (past it: closed, 1008) and 1024 streams."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from app import binance_render as br
from app.binance_api import market_frames as mf
from app.binance_api.streams import (
    ALL_MINI_TICKERS,
    ALL_TICKERS,
    STREAM_LIMIT,
    Change,
    Diff,
    DiffBook,
    RateWindow,
    SlowDiffs,
    StreamError,
    Subscriptions,
    handle,
    time_unit,
)
from app.clock import now_ms
from app.domain.candles import Candle
from app.messages import CandleUpdate, Message, PriceTick, TradePrints
from web.app_keys import MARKET_DATA, RUNTIME

log = logging.getLogger("troupe.binance.streams")

MAX_QUEUE = 2000
PING_S = 20.0
PONG_TIMEOUT_S = 60.0
MAX_MESSAGE = 64 * 1024  # a SUBSCRIBE of 1024 stream names fits
DEPTHS = (5, 10, 20)
KLINE_EVERY = 2  # seconds


class StreamConnection:
    def __init__(self, ws: web.WebSocketResponse, subs: Subscriptions, max_queue: int = MAX_QUEUE,
                 micro: bool = False) -> None:
        self.ws = ws
        self.subs = subs
        self.micro = micro  # timeUnit=MICROSECOND
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(max_queue)
        self.rate = RateWindow()
        self.closing = False
        self.ping_payload: bytes | None = None
        self.last_pong = time.monotonic()

    async def pump(self) -> None:
        while (frame := await self.queue.get()) is not None:
            await self.ws.send_str(frame)

    def close(self, code: int, reason: str) -> None:
        if not self.closing:
            self.closing = True
            asyncio.get_running_loop().create_task(self.ws.close(code=code, message=reason.encode()))


Hours = Callable[[str], Awaitable[list[Candle]]]


class StreamHub:
    """This node's Binance stream connections and the market state their events are computed from."""

    def __init__(self, ping_s: float = PING_S, pong_timeout_s: float = PONG_TIMEOUT_S,
                 max_queue: int = MAX_QUEUE, stream_limit: int = STREAM_LIMIT) -> None:
        self.ping_s, self.pong_timeout_s, self.max_queue = ping_s, pong_timeout_s, max_queue
        self.stream_limit = stream_limit
        self.connections: set[StreamConnection] = set()
        self.by_stream: dict[str, set[StreamConnection]] = {}
        self.books: dict[str, DiffBook] = {}
        self.slow: dict[str, SlowDiffs] = {}
        self.ticks: dict[str, PriceTick] = {}  # the latest tick per symbol
        self.ticked: set[str] = set()  # symbols ticked since the last second
        self.touches: dict[str, tuple[str, str, str, str]] = {}
        self.candles: dict[tuple[str, str], Candle] = {}
        self.candles_due: set[tuple[str, str]] = set()
        self.hours: Hours | None = None  # the last 24 hourly candles (what GET /api/v3/ticker/24hr reads)
        self.seconds = 0

    # --- subscriptions --------------------------------------------------------------------------------------
    def add(self, conn: StreamConnection) -> None:
        self.connections.add(conn)
        self.index(conn, Change(added=tuple(conn.subs.streams.values())))

    def remove(self, conn: StreamConnection) -> None:
        self.connections.discard(conn)
        self.index(conn, Change(removed=tuple(conn.subs.streams.values())))

    def index(self, conn: StreamConnection, change: Change) -> None:
        for s in change.added:
            self.by_stream.setdefault(s.name, set()).add(conn)
        for s in change.removed:
            conns = self.by_stream.get(s.name)
            if conns is not None:
                conns.discard(conn)
                if not conns:
                    del self.by_stream[s.name]

    # --- sending --------------------------------------------------------------------------------------------
    def offer(self, conn: StreamConnection, frame: str) -> None:
        if conn.closing:
            return
        try:
            conn.queue.put_nowait(frame)
        except asyncio.QueueFull:
            log.warning("closing a Binance stream connection: it is not reading (queue full)")
            conn.close(WSCloseCode.TRY_AGAIN_LATER, "too slow; reconnect")

    def publish(self, stream: str, payload: Callable[[], Any]) -> None:
        """The event of `stream` to its subscribers: rendered once per shape (raw or combined, milli- or
        microseconds) and shared as text."""
        conns = self.by_stream.get(stream)
        if not conns:
            return
        data = payload()
        frames: dict[tuple[bool, bool], str] = {}
        for conn in list(conns):
            shape = (conn.subs.combined, conn.micro)
            frame = frames.get(shape)
            if frame is None:
                raw = mf.dumps(mf.in_microseconds(data) if conn.micro else data)
                frame = frames[shape] = mf.combined(stream, raw) if conn.subs.combined else raw
            self.offer(conn, frame)

    # --- the market -----------------------------------------------------------------------------------------
    def dispatch(self, messages: Iterable[Message]) -> None:
        """Called on the event loop with a batch from the Broadcaster; never awaits a socket."""
        for msg in messages:
            if isinstance(msg, PriceTick):
                self._tick(msg)
            elif isinstance(msg, TradePrints):
                self._prints(msg)
            elif isinstance(msg, CandleUpdate):
                self._candles(msg)

    def _tick(self, tick: PriceTick) -> None:
        s, low = tick.symbol, tick.symbol.lower()
        self.ticks[s] = tick
        self.ticked.add(s)
        if not (tick.bids or tick.asks):
            return
        diff = self.books.setdefault(s, DiffBook()).apply(tick.book_first, tick.book_id, tick.bids, tick.asks)
        if diff is not None:
            now = now_ms()
            self.publish(f"{low}@depth@100ms", lambda: mf.depth_update(s, diff, now))
            if (due := self.slow.setdefault(s, SlowDiffs()).add(diff)) is not None:
                self._slow_diff(s, due, now)
        if tick.book_first <= tick.book_id:
            for n in DEPTHS:
                self.publish(f"{low}@depth{n}@100ms", lambda n=n: mf.partial_depth(tick, n))
        touch = mf.touch(tick)
        if self.touches.get(s) != touch:
            self.touches[s] = touch
            self.publish(f"{low}@bookTicker", lambda: mf.book_ticker(tick))

    def _slow_diff(self, symbol: str, diff: Diff, now: int) -> None:
        self.publish(f"{symbol.lower()}@depth", lambda: mf.depth_update(symbol, diff, now))

    def _prints(self, msg: TradePrints) -> None:
        s, low, now = msg.symbol, msg.symbol.lower(), now_ms()
        for p in msg.prints:
            self.publish(f"{low}@trade", lambda p=p: mf.trade(s, p, now))
            self.publish(f"{low}@aggTrade", lambda p=p: mf.agg_trade(s, p, now))

    def _candles(self, msg: CandleUpdate) -> None:
        now = now_ms()
        for interval, data in msg.candles.items():
            key = (msg.symbol, interval)
            candle = Candle.from_json(data)
            before = self.candles.get(key)
            if before is not None and candle.t > before.t:  # the previous one closed: say so at once
                self.publish(f"{msg.symbol.lower()}@kline_{interval}",
                             lambda b=before, i=interval: mf.kline(msg.symbol, i, b, True, now))
            if before is None or candle.t >= before.t:
                self.candles[key] = candle
                self.candles_due.add(key)

    async def second(self) -> None:
        """What Binance pushes every second: partial and diff depth without @100ms, tickers; klines every two."""
        now = now_ms()
        self.seconds += 1
        ticked, self.ticked = self.ticked, set()
        for s in ticked:
            tick, low = self.ticks[s], s.lower()
            for n in DEPTHS:
                self.publish(f"{low}@depth{n}", lambda t=tick, n=n: mf.partial_depth(t, n))
        for s, slow in self.slow.items():
            if (due := slow.flush()) is not None:
                self._slow_diff(s, due, now)
        if self.seconds % KLINE_EVERY == 0:
            due_candles, self.candles_due = self.candles_due, set()
            for symbol, interval in sorted(due_candles):
                candle = self.candles[(symbol, interval)]
                self.publish(f"{symbol.lower()}@kline_{interval}",
                             lambda c=candle, s=symbol, i=interval: mf.kline(s, i, c, False, now))
        await self._tickers(ticked, now)

    async def _tickers(self, ticked: set[str], now: int) -> None:
        every = ALL_TICKERS in self.by_stream or ALL_MINI_TICKERS in self.by_stream
        wanted = [s for s in sorted(ticked) if every or f"{s.lower()}@ticker" in self.by_stream
                  or f"{s.lower()}@miniTicker" in self.by_stream]
        if not wanted or self.hours is None:
            return
        tickers, minis = [], []
        for s in wanted:
            tick = self.ticks[s]
            stats = br.ticker_24h_json(s, tick.price, tick.bid, tick.ask, await self.hours(s), now)
            full, mini = mf.ticker(stats, tick, now), mf.mini_ticker(stats, now)
            tickers.append(full)
            minis.append(mini)
            self.publish(f"{s.lower()}@ticker", lambda full=full: full)
            self.publish(f"{s.lower()}@miniTicker", lambda mini=mini: mini)
        self.publish(ALL_TICKERS, lambda: tickers)
        self.publish(ALL_MINI_TICKERS, lambda: minis)

    async def run_seconds(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at += 1.0
            await asyncio.sleep(max(0.0, next_at - loop.time()))  # the 1-second cadence itself, not a wait
            try:
                await self.second()
            except Exception:  # a failed read of the candles must not end the streams' timer
                log.exception("the Binance streams' one-second timer failed")

    async def close_all(self) -> None:
        """Binance's `serverShutdown` event, then a clean close (1001), every connection at once."""
        event = mf.server_shutdown(now_ms())

        async def bye(conn: StreamConnection) -> None:
            conn.closing = True
            payload = mf.dumps(mf.in_microseconds(event) if conn.micro else event)
            frame = mf.combined("!serverShutdown", payload) if conn.subs.combined else payload
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.ws.send_str(frame), 1.0)
            await conn.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")

        await asyncio.gather(*(bye(conn) for conn in list(self.connections)), return_exceptions=True)


STREAM_HUB: web.AppKey[StreamHub] = web.AppKey("binance_stream_hub", StreamHub)
routes = web.RouteTableDef()


def _initial(request: web.Request) -> tuple[list[str], bool]:
    """The streams the URL names, and whether the connection is combined."""
    if request.path == "/stream":
        streams = request.query.get("streams", "")
        return [s for s in streams.split("/") if s], True
    name = request.match_info["name"]
    return ([name] if "@" in name or name.startswith("!") else []), False


@routes.get("/stream")
@routes.get("/ws/{name}")
async def stream_socket(request: web.Request) -> web.StreamResponse:
    hub = request.app[STREAM_HUB]
    symbols = request.app[RUNTIME].specs
    names, combined = _initial(request)
    subs = Subscriptions(combined=combined, limit=hub.stream_limit)
    try:
        micro = time_unit(request.query.get("timeUnit"))
        subs.subscribe(names, symbols)
    except StreamError as exc:
        return web.json_response(exc.frame(), status=400)
    ws = web.WebSocketResponse(autoping=False, max_msg_size=MAX_MESSAGE)
    if not ws.can_prepare(request).ok:
        return web.json_response({"error": {"code": 2, "msg": "Invalid request: expected a WebSocket upgrade"},
                                  "id": None}, status=400)
    await ws.prepare(request)
    conn = StreamConnection(ws, subs, hub.max_queue, micro)
    hub.add(conn)
    sender = asyncio.create_task(conn.pump())
    pinger = asyncio.create_task(_ping(hub, conn))
    try:
        await _read(hub, conn, symbols)
    finally:
        hub.remove(conn)
        pinger.cancel()
        if conn.queue.full():
            sender.cancel()
        else:
            conn.queue.put_nowait(None)
        with contextlib.suppress(asyncio.CancelledError, TimeoutError, ConnectionError, RuntimeError):
            await asyncio.wait_for(sender, 5.0)  # what was queued goes out first, for at most 5 s
        with contextlib.suppress(asyncio.CancelledError):
            await pinger
        if not ws.closed:
            await ws.close()
    return ws


async def _read(hub: StreamHub, conn: StreamConnection, symbols: Any) -> None:
    ws = conn.ws
    while not ws.closed:
        msg = await ws.receive()
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            return
        if not conn.rate.allow(time.monotonic() * 1000):
            conn.close(WSCloseCode.POLICY_VIOLATION, "Too many messages; at most 5 per second")
            return
        if msg.type == WSMsgType.PING:
            await ws.pong(msg.data)
        elif msg.type == WSMsgType.PONG:
            if conn.ping_payload is not None and msg.data == conn.ping_payload:
                conn.last_pong = time.monotonic()
        elif msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
            try:
                text = msg.data if msg.type == WSMsgType.TEXT else msg.data.decode()
            except UnicodeDecodeError:
                text = "\ufffd"
            answer, change = handle(text, conn.subs, symbols)
            hub.index(conn, change)
            hub.offer(conn, mf.dumps(answer))


async def _ping(hub: StreamHub, conn: StreamConnection) -> None:
    """A ping every `ping_s`; no pong echoing one for `pong_timeout_s` ends the connection (1008)."""
    while not conn.ws.closed:
        await asyncio.sleep(hub.ping_s)  # the ping cadence itself
        if time.monotonic() - conn.last_pong > hub.pong_timeout_s:
            conn.close(WSCloseCode.POLICY_VIOLATION, "Pong timeout")
            return
        conn.ping_payload = str(now_ms()).encode()
        with contextlib.suppress(ConnectionError, RuntimeError):
            await conn.ws.ping(conn.ping_payload)


def install(app: web.Application) -> None:
    """The hub, the routes (after the others, so a listen key's route comes first) and the timer."""
    app[STREAM_HUB] = StreamHub()
    app.router.add_routes(routes)
    app.cleanup_ctx.append(_timer)
    app.on_shutdown.append(_close_all)


async def _close_all(app: web.Application) -> None:
    await app[STREAM_HUB].close_all()


async def _timer(app: web.Application) -> AsyncIterator[None]:
    hub = app[STREAM_HUB]
    market = app[MARKET_DATA]
    hub.hours = lambda symbol: market.candles(symbol, "1h", 24)
    task = asyncio.create_task(hub.run_seconds())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
