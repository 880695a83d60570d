"""BinanceStreamSource: PRICE_FEED=binance. Live trades, book tickers, the top 20 levels of the book
(`<symbol>@depth20@100ms`) and 1m klines from Binance's combined stream, published by the PriceFeed
exactly like the random walk's ticks and candles; every trade is a print on the tape, and the
partial depth is the shape of the symbol's book (which paper fills consume, as on the simulator).

A thread of its own runs the WebSocket (aiohttp answers Binance's pings with pongs): it reconnects
with exponential backoff and full jitter, drops garbage (see app/exchange/market_stream.py), and
hands the actor one batch per flush interval; the actor owns Redis. Candle history comes from
/api/v3/klines at start and again after every gap. A symbol silent for BINANCE_STALE_MS is marked
stale: market orders are refused and browsers are told, until data flows again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp
import httpx

from app.clock import now_ms
from app.domain.candles import INTERVALS
from app.domain.symbols import SymbolSpec
from app.exchange.binance import BinanceClient, BinanceError
from app.exchange.market_stream import (
    Book,
    Kline,
    PartialDepth,
    Shutdown,
    Trade,
    TradeFilter,
    candles_from_klines,
    parse_frame,
)
from app.exchange.market_stream import stream_path as make_stream_path
from app.price_sources.port import Market
from settings import Settings

log = logging.getLogger(__name__)

FLUSH_S = 0.1
BACKOFF_BASE_S, BACKOFF_CAP_S = 0.5, 30.0
HISTORY = 500


@dataclass
class MarketBatch:
    """What the stream thread saw since its last flush, per symbol."""

    trades: dict[str, tuple[Decimal, Decimal, int]] = field(default_factory=dict)  # last price, volume, ts
    prints: dict[str, list[tuple[Decimal, Decimal, bool, int]]] = field(default_factory=dict)  # each trade
    books: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    depths: dict[str, PartialDepth] = field(default_factory=dict)  # the latest partial depth
    closed_klines: list[Kline] = field(default_factory=list)
    resync: bool = False  # reconnected after a gap: reload candle history


class BinanceStreamSource:
    def __init__(self, settings: Settings, specs: dict[str, SymbolSpec]) -> None:
        self.settings = settings
        self.specs = specs
        self.interval_s = min(1.0, settings.binance_stale_ms / 4000)
        self.books: dict[str, tuple[Decimal, Decimal]] = {}
        self.last_data: dict[str, int] = {}
        self.stale: dict[str, int] = {}
        self._stream: _StreamThread | None = None

    def start(self, market: Market, tell: Callable[[Any], None]) -> None:
        self._load_history(market)
        started = now_ms()
        self.last_data = dict.fromkeys(self.specs, started)  # a grace period to connect
        market.clear_stale()
        self._stream = _StreamThread(self.settings.binance_stream_url, list(self.specs), tell)
        self._stream.start()

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.stop()

    def _load_history(self, market: Market) -> None:
        """Replace each symbol's candle lists with Binance's klines (at start, and after a gap)."""
        s = self.settings
        with httpx.Client(timeout=s.binance_timeout_s) as http:
            client = BinanceClient(s.binance_api_url, "", "", http)
            for symbol in self.specs:
                for interval in INTERVALS:
                    try:
                        candles = candles_from_klines(client.klines(symbol, interval, HISTORY))
                    except BinanceError as exc:
                        log.warning("binance feed: no %s %s history (%s); keeping what we have", symbol, interval,
                                    exc)
                        continue
                    if candles:
                        market.replace_candles(symbol, interval, candles)
        log.debug("binance feed: candle history loaded for %s", ", ".join(self.specs))

    def on_message(self, message: Any, market: Market) -> bool:
        if not isinstance(message, MarketBatch):
            return False
        if message.resync:
            self._load_history(market)
        self.books.update(message.books)
        now = now_ms()
        for symbol in message.books:
            self.last_data[symbol] = now
        for symbol, depth in message.depths.items():
            market.depth(symbol, depth.bids, depth.asks)
            if depth.bids and depth.asks:
                self.books[symbol] = (depth.bids[0][0], depth.asks[0][0])
            self.last_data[symbol] = now
        for symbol, (price, volume, ts) in message.trades.items():
            bid, ask = self.books.get(symbol, (price, price))
            market.publish(symbol, price, min(bid, price), max(ask, price), volume, ts, message.prints.get(symbol))
            self.last_data[symbol] = now
        for kline in message.closed_klines:  # Binance's closed 1m candle is the authority for that minute
            market.close_candle(kline.symbol, "1m", kline.candle)
            self.last_data[kline.symbol] = now
        self._update_staleness(market, now)
        return True

    def on_timer(self, market: Market) -> None:
        """No random walk here: only the staleness check."""
        self._update_staleness(market, now_ms())

    def _update_staleness(self, market: Market, now: int) -> None:
        limit = self.settings.binance_stale_ms
        for symbol in self.specs:
            silent_since = self.last_data.get(symbol, now)
            stale = now - silent_since > limit
            if stale == (symbol in self.stale):
                continue
            if stale:
                self.stale[symbol] = silent_since
                log.warning("binance feed: %s silent for %d ms: prices are STALE", symbol, now - silent_since)
            else:
                self.stale.pop(symbol)
                log.info("binance feed: %s data flowing again", symbol)
            market.set_stale(symbol, stale, silent_since, now)


class _StreamThread:
    """The WebSocket client, on its own event loop; it only ever `tell`s the actor."""

    def __init__(self, base_url: str, symbols: list[str], tell: Callable[[Any], None]) -> None:
        self.url = base_url.rstrip("/") + make_stream_path(symbols)
        self.symbols = set(symbols)
        self.tell = tell
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="binance-stream", daemon=True)
        self._stop = asyncio.Event()
        self.filter = TradeFilter()
        self.dropped = 0

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
            self.thread.join(timeout=5)

    def _run(self) -> None:
        self.loop.run_until_complete(self._main())
        self.loop.close()

    async def _main(self) -> None:
        attempt = 0
        connected_before = False
        async with aiohttp.ClientSession() as session:
            while not self._stop.is_set():
                try:
                    async with session.ws_connect(self.url, heartbeat=None, autoping=True,
                                                  timeout=aiohttp.ClientWSTimeout(ws_close=5)) as ws:
                        log.info("binance feed: connected to %s", self.url.split("?")[0])
                        if connected_before:
                            self.tell(MarketBatch(resync=True))  # fill the gap in the candles
                        connected_before, attempt = True, 0
                        await self._read(ws)
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    log.warning("binance feed: stream failed (%s)", exc)
                if self._stop.is_set():
                    return
                delay = random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** attempt))
                attempt += 1
                log.info("binance feed: reconnecting in %.1f s", delay)
                try:
                    await asyncio.wait_for(self._stop.wait(), timeout=delay)
                except TimeoutError:
                    pass

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        batch = MarketBatch()
        flush_at = self.loop.time() + FLUSH_S
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            while True:
                receive = asyncio.ensure_future(ws.receive())
                done, _ = await asyncio.wait({receive, stop}, timeout=max(0.0, flush_at - self.loop.time()),
                                             return_when=asyncio.FIRST_COMPLETED)
                if stop in done:
                    receive.cancel()
                    await ws.close()
                    return
                if receive in done:
                    msg = receive.result()
                    if msg.type is not aiohttp.WSMsgType.TEXT:
                        log.warning("binance feed: stream closed (%s)", msg.type.name)
                        return
                    if self._take(msg.data, batch):
                        await ws.close()
                        return
                else:
                    receive.cancel()
                if self.loop.time() >= flush_at:
                    if batch.trades or batch.books or batch.depths or batch.closed_klines:
                        self.tell(batch)
                        batch = MarketBatch()
                    flush_at = self.loop.time() + FLUSH_S
        finally:
            stop.cancel()

    def _take(self, text: str, batch: MarketBatch) -> bool:
        """Fold one frame into the batch; True when Binance announces a shutdown (reconnect now)."""
        try:
            event = parse_frame(text)
        except ValueError as exc:
            self.dropped += 1
            log.debug("binance feed: dropped a frame: %s", exc)
            return False
        if isinstance(event, Shutdown):
            return True
        if isinstance(event, Trade) and event.symbol in self.symbols:
            if not self.filter.accept(event):
                self.dropped += 1
                return False
            previous = batch.trades.get(event.symbol)
            volume = event.qty + (previous[1] if previous else Decimal(0))
            batch.trades[event.symbol] = (event.price, volume, event.ts)
            batch.prints.setdefault(event.symbol, []).append((event.price, event.qty, event.buyer_maker, event.ts))
        elif isinstance(event, Book) and event.symbol in self.symbols:
            batch.books[event.symbol] = (event.bid, event.ask)
        elif isinstance(event, PartialDepth) and event.symbol in self.symbols:
            batch.depths[event.symbol] = event
        elif isinstance(event, Kline) and event.symbol in self.symbols and event.closed:
            batch.closed_klines.append(event)
        return False
