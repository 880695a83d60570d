"""PriceFeed: the one market-data actor, for either price source (random walk or Binance's stream).

The actor owns Redis: it publishes PriceTick and CandleUpdate on the market topic (MarketStatus when
a live symbol goes silent or comes back) and keeps the latest price, the stale marks and the candle
history in Redis for the HTTP API. Where prices come from is the source's job (`app/price_sources/`),
chosen from settings by `source_for`; nothing downstream can tell which one runs.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

import redis.client

from actors.base import MailboxActor
from actors.runtime import Runtime
from app.domain.candles import INTERVALS, Candle, apply_tick
from app.messages import CandleUpdate, MarketStatus, PriceTick, decode, encode
from app.messaging.streams import MARKET_MAXLEN, Delivery
from app.price_sources.binance_stream import BinanceStreamSource
from app.price_sources.port import PriceSource
from app.price_sources.random_walk import RandomWalkSource

log = logging.getLogger(__name__)

KEEP_CANDLES = 1000


def source_for(runtime: Runtime) -> PriceSource:
    """The source PRICE_FEED names."""
    s = runtime.settings
    if s.price_feed == "binance":
        return BinanceStreamSource(s, runtime.specs)
    return RandomWalkSource(runtime.specs, s.price_seed, s.tick_interval_ms)


class PriceFeed(MailboxActor):
    uses_db = False

    def __init__(self, runtime: Runtime, source: PriceSource) -> None:
        super().__init__(runtime, "price-feed", [f"{runtime.names.prefix}:mbox:price-feed"])
        self.source = source
        self.timer_interval_s = source.interval_s
        self.candles: dict[tuple[str, str], Candle] = {}  # the current candle of each symbol and interval
        self.seq = 0
        self._pipe: redis.client.Pipeline | None = None

    def recover(self) -> None:
        self.seq = max((t.seq for t in self.latest().values()), default=0)
        self._pipe = None
        self.source.start(self, self.actor_ref.tell)
        self._flush()

    def on_stop(self) -> None:
        self.source.stop()
        super().on_stop()

    def handle_batch(self, deliveries: list[Delivery]) -> None:
        assert self.consumer is not None
        self.consumer.ack(deliveries)  # no control messages yet

    def on_timer(self) -> None:
        self._pipe = None  # nothing half-written by a call that failed is ever sent
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

    def publish(self, symbol: str, price: Decimal, bid: Decimal, ask: Decimal, volume: Decimal, ts: int) -> None:
        pipe, names = self._pipeline(), self.runtime.names
        self.seq += 1
        tick = PriceTick(msg_id=f"tick:{symbol}:{self.seq}", symbol=symbol, price=price, bid=bid, ask=ask,
                         ts=ts, seq=self.seq)
        encoded = encode(tick)
        pipe.hset(names.prices, symbol, encoded)
        pipe.xadd(names.market, {"m": encoded}, maxlen=MARKET_MAXLEN, approximate=True)
        updates = {}
        for interval, ms in INTERVALS.items():
            key = (symbol, interval)
            candle, started = apply_tick(self.candles.get(key), ms, ts, price, volume)
            self.candles[key] = candle
            updates[interval] = self._store_candle(symbol, interval, candle, started)
        update = CandleUpdate(msg_id=f"candle:{symbol}:{self.seq}", symbol=symbol, candles=updates)
        pipe.xadd(names.market, {"m": encode(update)}, maxlen=MARKET_MAXLEN, approximate=True)

    def close_candle(self, symbol: str, interval: str, candle: Candle) -> None:
        current = self.candles.get((symbol, interval))
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
            self._pipe = self.redis.pipeline(transaction=False)
        return self._pipe

    def _flush(self) -> None:
        """Send what the source's last call queued, in one round trip."""
        pipe, self._pipe = self._pipe, None
        if pipe is not None:
            pipe.execute()

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
