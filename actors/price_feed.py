"""PriceFeed: the simulated market. A seeded random walk per symbol, ticks and candles.

Each timer tick it moves every symbol, publishes PriceTick and CandleUpdate on the market topic,
and keeps the latest price and the candle history in Redis for the HTTP API. History is generated
at first start so a chart is never empty; after a restart the walk continues from the last price.
"""

from __future__ import annotations

import logging
import random
import time
from decimal import Decimal
from typing import Any

from actors.base import MailboxActor
from actors.runtime import Runtime
from app.domain.candles import INTERVALS, Candle, apply_tick
from app.domain.pricewalk import RandomWalk, history
from app.messages import CandleUpdate, PriceTick, decode, encode
from app.messaging.streams import MARKET_MAXLEN, Delivery

log = logging.getLogger(__name__)

HISTORY_CANDLES = 500
KEEP_CANDLES = 1000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class PriceFeed(MailboxActor):
    uses_db = False

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime, "price-feed", [f"{runtime.names.prefix}:mbox:price-feed"])
        self.timer_interval_s = runtime.settings.tick_interval_ms / 1000
        self.walks: dict[str, RandomWalk] = {}
        self.candles: dict[tuple[str, str], Candle] = {}
        self.seq = 0

    def recover(self) -> None:
        r = self.redis
        assert r is not None
        names = self.runtime.names
        rng = random.Random(self.runtime.settings.price_seed)
        latest = r.hgetall(names.prices) or {}
        for symbol, spec in self.runtime.specs.items():
            last = latest.get(symbol.encode())
            tick = decode(last) if last else None
            price = tick.price if isinstance(tick, PriceTick) else spec.start_price
            if isinstance(tick, PriceTick):
                self.seq = max(self.seq, tick.seq)
            self.walks[symbol] = RandomWalk(spec, random.Random(rng.random()), price,
                                            self.runtime.settings.tick_interval_ms)
            self._ensure_history(symbol, price, rng)
        self.on_timer()  # publish a first tick right away, before anyone asks for a price

    def _ensure_history(self, symbol: str, price: Any, rng: random.Random) -> None:
        r = self.redis
        assert r is not None
        spec = self.runtime.specs[symbol]
        now = now_ms()
        for interval, ms in INTERVALS.items():
            key = self.runtime.names.candles(symbol, interval)
            last_raw = r.lindex(key, -1)
            if last_raw is not None:
                self.candles[(symbol, interval)] = Candle.from_json(_loads(last_raw))
                continue
            candles = history(spec, random.Random(rng.random()), price, now, ms, HISTORY_CANDLES)
            r.rpush(key, *(_dumps(c.to_json()) for c in candles))
            self.candles[(symbol, interval)] = candles[-1]
        log.info("price-feed: %s history ready", symbol)

    def handle_batch(self, deliveries: list[Delivery]) -> None:
        assert self.consumer is not None
        self.consumer.ack(deliveries)  # no control messages yet

    def on_timer(self) -> None:
        assert self.redis is not None
        pipe = self.redis.pipeline(transaction=False)
        ts = now_ms()
        for symbol, walk in self.walks.items():
            price, bid, ask, volume = walk.step()
            self.publish(pipe, symbol, price, bid, ask, volume, ts)
        pipe.execute()

    def publish(self, pipe: Any, symbol: str, price: Decimal, bid: Decimal, ask: Decimal, volume: Decimal,
                ts: int) -> None:
        """Queue on `pipe`: the tick (latest price and market topic) and every interval's candle."""
        names = self.runtime.names
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
            updates[interval] = self.store_candle(pipe, symbol, interval, candle, started)
        update = CandleUpdate(msg_id=f"candle:{symbol}:{self.seq}", symbol=symbol, candles=updates)
        pipe.xadd(names.market, {"m": encode(update)}, maxlen=MARKET_MAXLEN, approximate=True)

    def store_candle(self, pipe: Any, symbol: str, interval: str, candle: Candle, started: bool) -> dict[str, Any]:
        redis_key = self.runtime.names.candles(symbol, interval)
        data = candle.to_json()
        if started:
            pipe.rpush(redis_key, _dumps(data))
            pipe.ltrim(redis_key, -KEEP_CANDLES, -1)
        else:
            pipe.lset(redis_key, -1, _dumps(data))
        return data


def _dumps(obj: dict[str, Any]) -> str:
    import json
    return json.dumps(obj, separators=(",", ":"))


def _loads(raw: bytes) -> dict[str, Any]:
    import json
    return json.loads(raw)
