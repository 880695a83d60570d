"""MarketData reads what the PriceFeed leaves in Redis, limited to the symbols this node trades."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
import redis.asyncio as aioredis

from app.domain.symbols import build_specs
from app.market_data import MarketData
from app.messages import PriceTick, encode
from app.messaging.names import Names


@pytest.fixture
async def market(redis_url: str) -> AsyncIterator[MarketData]:
    client = aioredis.Redis.from_url(redis_url)
    names = Names(f"test-market-{secrets.token_hex(4)}")
    try:
        yield MarketData(client, names, build_specs(("BTCUSDT", "ETHUSDT")))
    finally:
        await client.delete(names.prices, names.stale)
        await client.aclose()


def _tick(symbol: str, price: str) -> PriceTick:
    p = Decimal(price)
    return PriceTick(msg_id=f"t-{symbol}", symbol=symbol, price=p, bid=p - 1, ask=p + 1, ts=1, seq=1)


async def test_ticks_and_marks_skip_symbols_this_node_does_not_trade(market: MarketData) -> None:
    for tick in (_tick("BTCUSDT", "50000"), _tick("ETHUSDT", "3000"), _tick("SOLUSDT", "150")):
        await market.redis.hset(market.names.prices, tick.symbol, encode(tick))
    ticks = await market.latest_ticks()
    assert ticks == {"BTCUSDT": _tick("BTCUSDT", "50000"), "ETHUSDT": _tick("ETHUSDT", "3000")}
    assert await market.marks() == {"BTC": Decimal("50000"), "ETH": Decimal("3000")}


async def test_nothing_published_yet_is_empty(market: MarketData) -> None:
    assert await market.latest_ticks() == {}
    assert await market.marks() == {}
    assert await market.stale_since() == {}


async def test_stale_since_says_since_when(market: MarketData) -> None:
    await market.redis.hset(market.names.stale, "BTCUSDT", "1700000000000")
    assert await market.stale_since() == {"BTCUSDT": 1700000000000}
