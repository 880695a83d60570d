"""PriceFeed: the one market-data actor, for either price source (random walk or Binance's stream).

The actor owns Redis: it publishes PriceTick and CandleUpdate on the market topic (MarketStatus when
a live symbol goes silent or comes back) and keeps the latest price, the stale marks and the candle
history in Redis for the HTTP API. Where prices come from is the source's job (`app/price_sources/`),
chosen from settings by `source_for`; nothing downstream can tell which one runs.

It is also the market's single writer: it owns each symbol's book (`app/domain/book.MarketBook`,
published on every tick and under `book:<symbol>`) and tape (`app/domain/tape`, `TradePrints` and
`tape:<symbol>`). With the simulator as the exchange it reads the users' fills from `topic:events`
and folds them in: each takes its liquidity off the book (which refills by the book's rule) and is
printed on the tape and in the candles, anonymised. It reads them on its timer, without blocking
(the books go out with the timer anyway), so no order wakes it. A fill is folded once: by its key
(`<orderId>:<seq>`) within a run, and by the last folded entry id (`market:folded`, written in the
same MULTI as the book, tape and candles, and with the acks of what was read) across restarts.
"""

from __future__ import annotations

import json
import logging
import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

import redis.client

from actors.base import MailboxActor
from actors.runtime import Runtime
from app.clock import now_ms
from app.domain import tape
from app.domain.book import Level, MarketBook
from app.domain.candles import INTERVALS, Candle, open_time
from app.domain.orders import Side
from app.domain.tape import KEEP_PRINTS, Print, Tape
from app.events import OrderUpdated
from app.messages import CandleUpdate, EventBatch, MarketStatus, PriceTick, TradePrints, decode, encode
from app.messaging.streams import MARKET_MAXLEN, Consumer, Delivery
from app.money import to_str
from app.price_sources.port import PriceSource
from app.price_sources.random_walk import RandomWalkSource

log = logging.getLogger(__name__)

KEEP_CANDLES = 1000
REMEMBER_FILLS = 100_000  # fill keys remembered against a relay's duplicate within a run
BOOK_TICK_S = 0.1  # a book the users' fills changed is published within this (coalesced: at most this often)


def source_for(runtime: Runtime) -> PriceSource:
    """The source PRICE_FEED names."""
    s = runtime.settings
    if s.price_feed == "binance":
        from app.price_sources.binance_stream import BinanceStreamSource  # only then (its HTTP client)

        return BinanceStreamSource(s, runtime.specs)
    return RandomWalkSource(runtime.specs, s.price_seed, s.tick_interval_ms)


class PriceFeed(MailboxActor):
    uses_db = False
    reads_own_mailbox = False  # its source tells it trades and depth, which must not wait behind a read
    start_at_end = True  # the users' fills of before the first start are not today's market

    def __init__(self, runtime: Runtime, source: PriceSource) -> None:
        names = runtime.names
        self.fold_fills = runtime.settings.exchange == "simulator"  # Binance's own fills are in its stream
        super().__init__(runtime, "price-feed", [f"{names.prefix}:mbox:price-feed"])
        self.fills: Consumer | None = None  # topic:events, read on the timer
        self.source = source
        # The timer runs every `source.interval_s / n` (at most BOOK_TICK_S): each time it publishes the
        # books fills changed, and every n-th time it is the source's timer (the walk's next step).
        self.source_every = max(1, math.ceil(source.interval_s / BOOK_TICK_S - 1e-9))
        self.timer_interval_s = source.interval_s / self.source_every
        self.timers = 0
        self.candles: dict[tuple[str, str], Candle] = {}  # the current candle of each symbol and interval
        self.seq = 0
        self._pipe: redis.client.Pipeline | None = None
        self.books: dict[str, MarketBook] = {}
        self.tapes: dict[str, Tape] = {}
        self.sourced_depth: set[str] = set()  # symbols whose book shape the source publishes (Binance)
        self.last: dict[str, PriceTick] = {}
        self.dirty: set[str] = set()  # symbols whose book changed since their last tick
        self.folded: dict[str, list[str]] = {}  # fills taken into a book since its last tick
        self.unprinted: dict[str, list[Print]] = {}  # the users' fills' prints, written with the next timer
        self.paper: dict[tuple[str, str, int], Candle] = {}  # the users' prints per 1m period (for closed klines)
        self.seen: OrderedDict[str, None] = OrderedDict()
        self.unacked: list[Delivery] = []  # entries read since the last flush, acked with it
        self.folded_up_to = self._written_up_to = (0, 0)

    def recover(self) -> None:
        if self.fold_fills:
            self.fills = Consumer(self.runtime.redis_url, [self.runtime.names.events], self.group or self.name,
                                  self.name, start_at_end=self.start_at_end, writer=self.redis)
        latest = self.latest()
        self.seq = max((t.seq for t in latest.values()), default=0)
        self.last = dict(latest)
        self._pipe = None
        self._load_books()
        self.source.start(self, self.actor_ref.tell)
        self._flush()

    def _load_books(self) -> None:
        """Books and tapes go on numbering where the previous run stopped."""
        assert self.redis is not None
        names, refill = self.runtime.names, self.runtime.settings.book_refill_ms
        for symbol, spec in self.runtime.specs.items():
            raw = self.redis.get(names.book(symbol))
            update_id = int(json.loads(raw)["lastUpdateId"]) if raw else 0
            self.books[symbol] = MarketBook(spec, refill, update_id)
            last = self.redis.lindex(names.tape(symbol), -1)
            if last is not None:
                p = Print.from_json(json.loads(last))
                self.tapes[symbol] = Tape(p.id, p.ts)
            else:
                self.tapes[symbol] = Tape()
        raw = self.redis.get(names.market_folded)
        self.folded_up_to = self._written_up_to = _entry_id(raw.decode()) if raw else (0, 0)

    def on_stop(self) -> None:
        self.source.stop()
        if self.fills is not None:
            self.fills.close()
        super().on_stop()

    def handle_batch(self, deliveries: list[Delivery]) -> None:
        """The mailbox has no control messages yet."""
        assert self.consumer is not None
        self.consumer.ack(deliveries)

    def _read_fills(self) -> None:
        """The users' fills since the last timer, read without waiting: however many orders fill meanwhile,
        the market topic gets one tick, one candle update and one print batch per symbol, and the entries
        read are acked in the flush's MULTI, after the book that took them in."""
        if self.fills is None:
            return
        now = now_ms()
        while True:
            deliveries = self.fills.read(None)
            for d in deliveries:
                entry = _entry_id(d.entry_id)
                if entry <= self.folded_up_to:
                    continue  # folded before a restart
                self.folded_up_to = entry
                if isinstance(d.message, EventBatch):
                    for event in d.message.events:
                        if isinstance(event, OrderUpdated) and event.fills:
                            self._fold(event, now)
            self.unacked += deliveries
            if len(deliveries) < self.fills.batch:
                return

    def _fold(self, event: OrderUpdated, now: int) -> None:
        """A user's fills: off the book, onto the tape (who traded is not printed)."""
        order = event.order
        book, symbol_tape = self.books.get(order.symbol), self.tapes.get(order.symbol)
        if book is None or symbol_tape is None:
            return
        for fill in event.fills:
            key = f"{order.id}:{fill.seq}"
            if key in self.seen:
                continue  # a relay's duplicate
            self.seen[key] = None
            if len(self.seen) > REMEMBER_FILLS:
                self.seen.popitem(last=False)
            book.fold(order.side, fill.price, fill.qty, now)
            buyer_maker = (order.side is Side.BUY) == fill.maker
            printed = symbol_tape.record(fill.price, fill.qty, buyer_maker, now)
            self.unprinted.setdefault(order.symbol, []).append(printed)
            if self.runtime.settings.price_feed == "binance":  # Binance's closed klines lack our fills
                key = (order.symbol, "1m", open_time(printed.ts, INTERVALS["1m"]))
                self.paper[key] = tape.fold(self.paper.get(key), INTERVALS["1m"], [printed])[-1]
            self.folded.setdefault(order.symbol, []).append(key)
            self.dirty.add(order.symbol)

    def on_timer(self) -> None:
        self._pipe = None  # nothing half-written by a call that failed is ever sent
        self._read_fills()
        self.timers += 1
        if self.timers % self.source_every == 0:
            self.source.on_timer(self)
        self._flush()

    def on_receive(self, message: Any) -> Any:
        self._pipe = None
        if self.source.on_message(message, self):
            self._flush()
            return None
        return super().on_receive(message)

    # --- the Market a source writes through ------------------------------------------------------------
    def latest(self) -> dict[str, PriceTick]:
        assert self.redis is not None
        ticks = (decode(raw) for raw in (self.redis.hgetall(self.runtime.names.prices) or {}).values())
        return {t.symbol: t for t in ticks if isinstance(t, PriceTick)}

    def last_candle(self, symbol: str, interval: str) -> Candle | None:
        assert self.redis is not None
        raw = self.redis.lindex(self.runtime.names.candles(symbol, interval), -1)
        if raw is None:
            return None
        candle = self.candles[(symbol, interval)] = Candle.from_json(json.loads(raw))
        return candle

    def replace_candles(self, symbol: str, interval: str, candles: list[Candle]) -> None:
        assert self.redis is not None
        key = self.runtime.names.candles(symbol, interval)
        pipe = self.redis.pipeline()
        pipe.delete(key)
        pipe.rpush(key, *(_dumps(c.to_json()) for c in candles))
        pipe.execute()
        self.candles[(symbol, interval)] = candles[-1]

    def publish(self, symbol: str, price: Decimal, bid: Decimal, ask: Decimal, volume: Decimal, ts: int,
                prints: Sequence[tuple[Decimal, Decimal, bool, int]] | None = None) -> None:
        book = self.books[symbol]
        if symbol not in self.sourced_depth:
            book.quote(bid, ask)
        self._tick(symbol, price, bid, ask, ts)
        symbol_tape = self.tapes[symbol]
        if prints is None:  # one trade of `volume` at `price`; the taker bought if it traded at the ask
            prints = [(price, volume, price < ask, ts)] if volume > 0 else []
        self._print(symbol, [symbol_tape.record(p, q, m, t) for p, q, m, t in prints])

    def depth(self, symbol: str, bids: Sequence[tuple[Decimal, Decimal]],
              asks: Sequence[tuple[Decimal, Decimal]]) -> None:
        book = self.books.get(symbol)
        if book is None:
            return
        self.sourced_depth.add(symbol)
        book.replace([Level(p, q) for p, q in bids], [Level(p, q) for p, q in asks])
        self.dirty.add(symbol)

    def _tick(self, symbol: str, price: Decimal, bid: Decimal, ask: Decimal, ts: int) -> None:
        """The tick: the last price, and the book as it stands (its touch is the tick's bid and ask)."""
        pipe, names = self._pipeline(), self.runtime.names
        depth = self.books[symbol].publish(now_ms())
        self.seq += 1
        tick = PriceTick(msg_id=f"tick:{symbol}:{self.seq}", symbol=symbol, price=price,
                         bid=depth.bids[0].price if depth.bids else bid, ask=depth.asks[0].price if depth.asks else ask,
                         ts=ts, seq=self.seq, bids=tuple((lv.price, lv.qty) for lv in depth.bids),
                         asks=tuple((lv.price, lv.qty) for lv in depth.asks), book_first=depth.first_id,
                         book_id=depth.last_id, folded=tuple(self.folded.pop(symbol, ())))
        self.last[symbol] = tick
        self.dirty.discard(symbol)
        pipe.hset(names.prices, symbol, encode(replace(tick, bids=(), asks=(), folded=())))
        pipe.xadd(names.market, {"m": encode(tick)}, maxlen=MARKET_MAXLEN, approximate=True)
        pipe.set(names.book(symbol), _dumps({
            "lastUpdateId": depth.last_id, "ts": ts,
            "bids": [[to_str(lv.price), to_str(lv.qty)] for lv in depth.bids],
            "asks": [[to_str(lv.price), to_str(lv.qty)] for lv in depth.asks]}))

    def _print(self, symbol: str, prints: list[Print]) -> None:
        """Prints onto the tape and into every interval's candles: a candle's volume is the sum of its prints."""
        prints = self.unprinted.pop(symbol, []) + prints  # in the order of their ids
        if not prints:
            return
        pipe, names = self._pipeline(), self.runtime.names
        pipe.rpush(names.tape(symbol), *(_dumps(p.to_json()) for p in prints))
        pipe.ltrim(names.tape(symbol), -KEEP_PRINTS, -1)
        updates = {}
        for interval, ms in INTERVALS.items():
            key = (symbol, interval)
            current = self.candles.get(key)
            touched = tape.fold(current, ms, prints)
            for i, candle in enumerate(touched):
                started = current is None or candle.t > current.t if i == 0 else True
                updates[interval] = self._store_candle(symbol, interval, candle, started)
            self.candles[key] = touched[-1]
        self.seq += 1
        update = CandleUpdate(msg_id=f"candle:{symbol}:{self.seq}", symbol=symbol, candles=updates)
        pipe.xadd(names.market, {"m": encode(update)}, maxlen=MARKET_MAXLEN, approximate=True)
        trades = TradePrints(msg_id=f"prints:{symbol}:{prints[-1].id}", symbol=symbol, prints=tuple(prints))
        pipe.xadd(names.market, {"m": encode(trades)}, maxlen=MARKET_MAXLEN, approximate=True)

    def close_candle(self, symbol: str, interval: str, candle: Candle) -> None:
        """The exchange's closed candle replaces ours, with our users' paper fills of that period added in."""
        current = self.candles.get((symbol, interval))
        paper = self.paper.pop((symbol, interval, candle.t), None)
        for key in [k for k in self.paper if k[:2] == (symbol, interval) and k[2] < candle.t]:
            del self.paper[key]
        candle = tape.with_paper(candle, paper)
        if current is not None and current.t == candle.t:
            self.candles[(symbol, interval)] = candle
            self._store_candle(symbol, interval, candle, started=False)

    def set_stale(self, symbol: str, stale: bool, since: int, now: int) -> None:
        pipe, names = self._pipeline(), self.runtime.names
        if stale:
            pipe.hset(names.stale, symbol, str(since))
        else:
            pipe.hdel(names.stale, symbol)
        status = MarketStatus(msg_id=f"status:{symbol}:{now}", symbol=symbol, stale=stale, since=since)
        pipe.xadd(names.market, {"m": encode(status)}, maxlen=MARKET_MAXLEN, approximate=True)

    def clear_stale(self) -> None:
        assert self.redis is not None
        self.redis.delete(self.runtime.names.stale)

    # --- writing -----------------------------------------------------------------------------------------
    def _pipeline(self) -> redis.client.Pipeline:
        if self._pipe is None:
            assert self.redis is not None
            self._pipe = self.redis.pipeline(transaction=True)
        return self._pipe

    def _flush(self, tick_books: bool = True) -> None:
        """Tick the books that changed without a trade, then send what was queued: one MULTI, one round trip."""
        if tick_books:
            if self.folded_up_to != self._written_up_to:
                self._written_up_to = self.folded_up_to
                self._pipeline().set(self.runtime.names.market_folded, "{}-{}".format(*self.folded_up_to))
            for symbol in sorted(self.unprinted):
                self._print(symbol, [])
            for symbol in sorted(self.dirty):
                last = self.last.get(symbol)
                if last is not None:  # no book goes out before the symbol's first price
                    self._tick(symbol, last.price, last.bid, last.ask, max(last.ts, now_ms()))
            self.dirty.clear()
            if self.unacked and self.fills is not None:
                self.fills.ack_in(self._pipeline(), self.unacked)
        pipe, self._pipe = self._pipe, None
        if pipe is not None:
            pipe.execute()
            if tick_books:
                self.unacked = []

    def _store_candle(self, symbol: str, interval: str, candle: Candle, started: bool) -> dict[str, Any]:
        pipe, redis_key = self._pipeline(), self.runtime.names.candles(symbol, interval)
        data = candle.to_json()
        if started:
            pipe.rpush(redis_key, _dumps(data))
            pipe.ltrim(redis_key, -KEEP_CANDLES, -1)
        else:
            pipe.lset(redis_key, -1, _dumps(data))
        return data


def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _entry_id(entry: str) -> tuple[int, int]:
    ms, _, seq = entry.partition("-")
    return int(ms), int(seq or 0)
