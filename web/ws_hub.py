"""The hub that fans events out to this node's browsers, and its connections (the frames: web/ws_render.py).

Each connection has a bounded send queue drained by its own task, so one stalled browser never
delays the others; a connection whose queue fills up is closed (1013) and resyncs on reconnect.
A market frame is built once for all its subscribers, as the whole WebSocket frame on the wire
(`Shared`), and written straight to each subscriber whose socket is keeping up (nothing queued,
its transport below its high-water mark): no queue, no task switch, no framing per socket. A socket that
falls behind gets it through its queue, whose sender waits for the transport to drain.
A socket lives no longer than its session: it is closed with code 4001 (SESSION_ENDED) when the
session reaches its end of life, or as soon as its session or account is ended on any node.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from app import metrics
from app.cfd.rules import Direction, mark_and_upnl
from app.events import CfdChanged, OrderUpdated
from app.hops import WS_QUEUED, stamp
from app.messages import CandleUpdate, EventBatch, MarketStatus, Message, PriceTick, TradePrints
from app.messaging.auth_notices import AuthNotice
from app.money import to_str
from app.security.tokens import Claims
from web.ws_render import (
    TracedFrame,
    book_frame,
    candle_frame,
    event_frame,
    pnl_frame,
    price_frame,
    status_frame,
    trade_frame,
)

log = logging.getLogger("troupe.ws")

SESSION_ENDED = 4001  # application close code: sign in again, do not reconnect with the old session
MAX_QUEUE = 2000


@dataclass(frozen=True, slots=True)
class Shared:
    """A market frame for every subscriber: its payload, and the whole unmasked, uncompressed text frame
    (RFC 6455 section 5.2: FIN + text opcode, the payload length in 7, 16 or 64 bits, the payload)."""

    payload: bytes
    wire: bytes

    @classmethod
    def of(cls, frame: str) -> Shared:
        payload = frame.encode()
        n = len(payload)
        if n < 126:
            header = struct.pack("!BB", 0x81, n)
        elif n < 1 << 16:
            header = struct.pack("!BBH", 0x81, 126, n)
        else:
            header = struct.pack("!BBQ", 0x81, 127, n)
        return cls(payload, header + payload)


# What a connection's queue holds: a market frame shared by every subscriber; a frame of one
# connection's own (str); a traced order update, stamped as it is written; None: stop.
Frame = Shared | str | TracedFrame


class Connection:
    def __init__(self, ws: web.WebSocketResponse, claims: Claims) -> None:
        self.ws = ws
        self.user_id = claims.user_id
        self.sid = claims.sid
        self.symbols: set[str] = set()
        self.book_symbols: set[str] = set()  # subscribed with the "book" channel
        self.trade_symbols: set[str] = set()  # subscribed with the "trades" channel
        self.interval = "1m"
        self.queue: asyncio.Queue[Frame | None] = asyncio.Queue(MAX_QUEUE)
        self.closing = False
        # Open CFD positions (id -> (symbol, direction, entry, quantity)) for live PnL pushes, and
        # the least milliseconds between two pushes the client asked for (0: every tick).
        self.cfd: dict[int, tuple[str, Direction, Decimal, Decimal]] = {}
        self.cfd_pnl_ms = 0
        self.cfd_pushed_at: dict[str, float] = {}
        self.sending = False  # the sender is inside a write (waiting for the transport to drain, say)
        self.transport: asyncio.Transport | None = None  # set when shared frames may be written directly

    def track_cfd(self, change: CfdChanged) -> None:
        """Follow the user's open CFD positions from the desk's events, for the live PnL pushes."""
        p = change.position
        if p is None:
            return
        if change.event in ("OPENED", "UPDATED"):
            self.cfd[p.id] = (p.symbol, p.direction, p.entry, p.qty)
        else:
            self.cfd.pop(p.id, None)

    def track_open_cfd(self, position: dict[str, Any]) -> None:
        """An open position of the SNAPSHOT (its REST JSON)."""
        self.cfd[int(position["id"])] = (position["symbol"], Direction(position["direction"]),
                                         Decimal(position["entryPrice"]), Decimal(position["quantity"]))

    def pnl_frame(self, tick: PriceTick) -> str | None:
        """Live PnL of this user's open CFD positions on `tick`'s symbol, at most every cfd_pnl_ms."""
        mine = [(pid, d, e, q) for pid, (s, d, e, q) in self.cfd.items() if s == tick.symbol]
        now = time.monotonic()
        if not mine or (now - self.cfd_pushed_at.get(tick.symbol, 0.0)) * 1000 < self.cfd_pnl_ms:
            return None
        self.cfd_pushed_at[tick.symbol] = now
        rows: list[dict[str, str | int]] = []
        for pid, direction, entry, qty in sorted(mine):
            mark, upnl = mark_and_upnl(direction, entry, qty, tick.bid, tick.ask)
            rows.append({"id": pid, "markPrice": to_str(mark), "unrealizedPnl": to_str(upnl)})
        return pnl_frame(tick.symbol, rows, tick.ts)

    async def pump(self, transport: asyncio.Transport | None) -> None:
        """The sender: drains the queue in order. Once it runs, shared frames may skip the queue while the
        socket keeps up (`write_now`, on the upgraded request's `transport`); only an uncompressed socket's,
        since they are built uncompressed."""
        self.transport = None if self.ws.compress else transport
        while (frame := await self.queue.get()) is not None:
            self.sending = True
            try:
                if isinstance(frame, Shared):
                    await self.ws.send_frame(frame.payload, WSMsgType.TEXT)
                else:
                    await self.ws.send_str(frame if isinstance(frame, str) else frame.render())
            finally:
                self.sending = False

    def write_now(self, frame: Shared) -> bool:
        """Write a shared frame at once if nothing is waiting before it: nothing queued, no write in
        progress, the transport writable (the kernel takes the bytes) and the socket not closing."""
        t = self.transport
        if t is None or self.sending or not self.queue.empty() or self.ws.closed or t.is_closing():
            return False
        # Below the transport's own high-water mark it is writable (uvloop holds writes until the end of the
        # loop's turn, so a batch's frames share one send); above it the kernel's buffers are full.
        if t.get_write_buffer_size() >= t.get_write_buffer_limits()[1]:
            return False
        t.write(frame.wire)
        return True

    def end(self, reason: str) -> None:
        """Close because the session is over (the client must sign in again)."""
        self.closing = True
        asyncio.get_running_loop().create_task(self.ws.close(code=SESSION_ENDED, message=reason.encode()[:120]))


class WsHub:
    """Connections by user and, for market frames, by subscribed symbol and channel: a tick costs its
    subscribers, not every socket of the node (5,000 sockets on one symbol, a tick of another: no work)."""

    def __init__(self) -> None:
        self.connections: set[Connection] = set()
        self.by_user: dict[int, set[Connection]] = {}
        self.prices: dict[str, set[Connection]] = {}  # symbol -> connections subscribed to it
        self.books: dict[str, set[Connection]] = {}  # ... with the book channel
        self.trades: dict[str, set[Connection]] = {}  # ... with the trades channel

    def add(self, conn: Connection) -> None:
        self.connections.add(conn)
        self.by_user.setdefault(conn.user_id, set()).add(conn)

    def remove(self, conn: Connection) -> None:
        self.connections.discard(conn)
        _discard(self.by_user, conn.user_id, conn)
        self.unsubscribe(conn, list(conn.symbols))

    def subscribe(self, conn: Connection, symbols: list[str], book: bool, trades: bool) -> None:
        for symbol in symbols:
            conn.symbols.add(symbol)
            self.prices.setdefault(symbol, set()).add(conn)
            if book:
                conn.book_symbols.add(symbol)
                self.books.setdefault(symbol, set()).add(conn)
            if trades:
                conn.trade_symbols.add(symbol)
                self.trades.setdefault(symbol, set()).add(conn)

    def unsubscribe(self, conn: Connection, symbols: list[str]) -> None:
        for symbol in symbols:
            for index, mine in ((self.prices, conn.symbols), (self.books, conn.book_symbols),
                                (self.trades, conn.trade_symbols)):
                mine.discard(symbol)
                _discard(index, symbol, conn)

    def _offer(self, conn: Connection, frame: Frame) -> None:
        if conn.closing:
            return
        if isinstance(frame, Shared) and conn.write_now(frame):
            return
        try:
            conn.queue.put_nowait(frame)
        except asyncio.QueueFull:
            conn.closing = True
            metrics.WS_DROPPED.inc()
            log.warning("closing a WebSocket of user %s: it is not reading (queue full)", conn.user_id)
            asyncio.get_running_loop().create_task(
                conn.ws.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"too slow; reconnect to resync"))

    def dispatch(self, messages: list[Message]) -> None:
        """Called on the event loop with a batch from the Broadcaster; never awaits a socket."""
        for msg in messages:
            if isinstance(msg, PriceTick):
                subscribers = self.prices.get(msg.symbol, ())
                if subscribers:
                    frame = Shared.of(price_frame(msg))
                    for conn in subscribers:
                        self._offer(conn, frame)
                        if conn.cfd and (pnl := conn.pnl_frame(msg)) is not None:
                            self._offer(conn, pnl)
                watching = self.books.get(msg.symbol, ())
                if watching and msg.book_first <= msg.book_id and (msg.bids or msg.asks):
                    book = Shared.of(book_frame(msg))
                    for conn in watching:
                        self._offer(conn, book)
            elif isinstance(msg, TradePrints):
                watching = self.trades.get(msg.symbol, ())
                if watching:
                    trades = Shared.of(trade_frame(msg))
                    for conn in watching:
                        self._offer(conn, trades)
            elif isinstance(msg, CandleUpdate):
                frames: dict[str, Shared] = {}
                for conn in self.prices.get(msg.symbol, ()):
                    if conn.interval in msg.candles:
                        candle = frames.get(conn.interval)
                        if candle is None:
                            candle = frames[conn.interval] = Shared.of(candle_frame(msg.symbol, conn.interval,
                                                                                    msg.candles[conn.interval]))
                        self._offer(conn, candle)
            elif isinstance(msg, MarketStatus):
                subscribers = self.prices.get(msg.symbol, ())
                if subscribers:
                    status = Shared.of(status_frame(msg.symbol, msg.stale, msg.since))
                    for conn in subscribers:
                        self._offer(conn, status)
            elif isinstance(msg, EventBatch):
                started = time.perf_counter()
                for event in msg.events:
                    conns = self.by_user.get(event.user_id)
                    if conns:
                        rendered: Frame = event_frame(event)
                        if isinstance(event, OrderUpdated) and event.trace is not None:
                            stamp(event.trace, WS_QUEUED)
                            rendered = TracedFrame(rendered, event.trace)
                        for conn in conns:
                            if isinstance(event, CfdChanged):
                                conn.track_cfd(event)
                            self._offer(conn, rendered)
                metrics.observe_hops({"ws_fanout": time.perf_counter() - started})

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


def _discard(index: dict[Any, set[Connection]], key: Any, conn: Connection) -> None:
    members = index.get(key)
    if members is not None:
        members.discard(conn)
        if not members:
            del index[key]
