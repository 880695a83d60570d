"""Paper trading on live prices: PRICE_FEED=binance with EXCHANGE=simulator, against the Binance fake.

Market data (trades, the partial-depth book, klines) comes from Binance's public streams; orders
never leave Troupe: they fill on the simulator against Binance's book, which they consume, and
print on the tape beside Binance's own trades.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from app.money import to_str
from tests.support.apps import make_settings, running_app
from tests.support.fakes.binance import FakeBinance
from tests.support.helpers import auth, open_ws, register

D = Decimal


@pytest.fixture
async def client(aiohttp_client: Any, tmp_path: Path, sqlite_url: str, redis_url: str,
                 fake: FakeBinance) -> AsyncIterator[Any]:
    settings = make_settings(tmp_path, sqlite_url, redis_url, price_feed="binance", exchange="simulator",
                             binance_api_url=fake.url, binance_stream_url=fake.stream_url, binance_stale_ms=60_000,
                             binance_timeout_s=2, book_refill_ms=10**12)  # no refill while the test runs
    async for c in running_app(aiohttp_client, settings):
        yield c


def rows(levels: list[tuple[str, str]]) -> list[list[str]]:
    """Levels as the API and the frames show them: plain decimals, no trailing zeros."""
    return [[to_str(D(p)), to_str(D(q))] for p, q in levels]


async def test_orders_fill_on_the_simulator_against_binance_s_book(client: Any, fake: FakeBinance) -> None:
    token, _ = await register(client)
    ws = await open_ws(client, token)
    await ws.send({"type": "subscribe", "symbols": ["BTCUSDT"], "channels": ["book", "trades"]})
    await ws.wait_for(lambda m: m["type"] == "SUBSCRIPTIONS")
    await fake.stream_connected.wait()

    await fake.push_trade("BTCUSDT", "50000.5", qty="0.05")
    trade = await ws.wait_for(lambda m: m["type"] == "TRADE")
    assert [(t["price"], t["qty"], t["isBuyerMaker"]) for t in trade["trades"]] == [("50000.5", "0.05", True)]
    bids = [("50000.00", "0.2"), ("49999.00", "1")]
    asks = [("50001.00", "0.3"), ("50002.00", "2")]
    await fake.push_depth("BTCUSDT", bids, asks)
    book = await ws.wait_for(lambda m: m["type"] == "BOOK_UPDATE" and m["bids"] == rows(bids))
    assert book["asks"] == rows(asks)
    depth = await (await client.get("/api/market/depth?symbol=BTCUSDT")).json()
    assert (depth["bids"], depth["asks"]) == (rows(bids), rows(asks))
    price = await ws.wait_for(lambda m: m["type"] == "PRICE_UPDATE" and m["bid"] == "50000")
    assert price["ask"] == "50001" and price["price"] == "50000.5", "the touch is Binance's, the last trade too"

    resp = await client.post("/api/trading/orders", headers=auth(token),
                             json={"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.25"})
    assert resp.status == 202, await resp.text()
    filled = await ws.order_status((await resp.json())["orderId"], {"FILLED"})
    assert [(f["price"], f["qty"]) for f in filled["fills"]] == [("50000", "0.2"), ("49999", "0.05")]
    consumed = await ws.wait_for(lambda m: m["type"] == "BOOK_UPDATE" and m["bids"] == [["49999", "0.95"]])
    assert consumed["u"] > book["u"]
    printed = await ws.wait_for(lambda m: m["type"] == "TRADE" and any(t["qty"] == "0.2" for t in m["trades"]))
    assert [(t["price"], t["qty"], t["isBuyerMaker"]) for t in printed["trades"]] == [
        ("50000", "0.2", True), ("49999", "0.05", True)], "the paper fill on the tape: a taker sold"
    # Binance's next partial depth is still consumed by what the paper fill took (until it refills).
    await fake.push_depth("BTCUSDT", bids, asks)
    again = await ws.wait_for(lambda m: m["type"] == "BOOK_UPDATE" and m["u"] > consumed["u"])
    assert again["bids"] == [["49999", "0.95"]]
    assert not [r for r in fake.requests if "order" in r[1].lower()], "no order ever went to Binance"
