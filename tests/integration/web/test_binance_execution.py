"""EXCHANGE=binance failure handling against the strict fake: lost answers, races, refusals.

Whatever the fake does to an answer, its own ledger must show exactly one order per clientOrderId.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.helpers import auth
from tests.support.venues import Venue, balance_event, open_venue


@pytest.fixture
async def binance(aiohttp_client: Any, tmp_path: Path, sqlite_url: str, redis_url: str) -> AsyncIterator[Venue]:
    async for v in open_venue("binance", aiohttp_client, tmp_path, sqlite_url, redis_url):
        yield v


@pytest.mark.parametrize("kind", ["5xx", "-1007", "timeout", "drop"])
@pytest.mark.parametrize("executed", [True, False], ids=["executed", "lost"])
async def test_a_lost_answer_never_makes_a_second_order(binance: Venue, kind: str, executed: bool) -> None:
    assert binance.fake is not None
    token, ws, _ = await binance.trader()
    binance.fake.inject("POST", "/api/v3/order", kind, execute=executed)
    placed = await binance.place(token, side="BUY", type="MARKET", quantity="0.01", clientOrderId=f"lost-{kind}")
    await ws.order_status(placed["orderId"], {"UNKNOWN"})
    # Executed: found by origClientOrderId. Lost: sent again once it can no longer execute.
    filled = await ws.order_status(placed["orderId"], {"FILLED"}, timeout=15)
    assert Decimal(filled["executedQty"]) == Decimal("0.01")
    assert len(binance.fake.orders_with(f"lost-{kind}")) == 1
    cost = Decimal(filled["cummulativeQuoteQty"])
    await ws.wait_for(balance_event("USDT", lambda free, locked: free == Decimal("10000") - cost))
    order = await (await binance.client.get(f"/api/trading/orders/{placed['orderId']}", headers=auth(token))).json()
    assert len(order["fills"]) == 1, "each fill is recorded once"


async def test_rate_limit_is_honoured_and_the_order_goes_through_once(binance: Venue) -> None:
    assert binance.fake is not None
    token, ws, _ = await binance.trader()
    binance.fake.inject("POST", "/api/v3/order", "429")
    placed = await binance.place(token, side="BUY", type="MARKET", quantity="0.01", clientOrderId="limited")
    await ws.order_status(placed["orderId"], {"FILLED"}, timeout=15)
    posts = [r for r in binance.fake.requests if r[0] == "POST"]
    assert len(posts) == 2 and len(binance.fake.orders_with("limited")) == 1


async def test_resting_order_passes_through_partial_fills(binance: Venue) -> None:
    assert binance.fake is not None
    token, ws, _ = await binance.trader()
    placed = await binance.place(token, side="BUY", type="LIMIT", quantity="0.01", price="49000", timeInForce="GTC")
    await ws.order_status(placed["orderId"], {"NEW"})
    binance.fake.trade("BTCUSDT", Decimal("48999"), qty=Decimal("0.004"))
    partial = await ws.order_status(placed["orderId"], {"PARTIALLY_FILLED"})
    assert Decimal(partial["executedQty"]) == Decimal("0.004")
    binance.fake.trade("BTCUSDT", Decimal("48999"))
    filled = await ws.order_status(placed["orderId"], {"FILLED"})
    assert Decimal(filled["cummulativeQuoteQty"]) == Decimal("490")
    order = await (await binance.client.get(f"/api/trading/orders/{placed['orderId']}", headers=auth(token))).json()
    assert [Decimal(f["qty"]) for f in order["fills"]] == [Decimal("0.004"), Decimal("0.006")]
    await ws.wait_for(balance_event("USDT", lambda free, locked: free == Decimal("9510") and locked == 0))


async def test_cancel_racing_a_fill_ends_filled_never_both(binance: Venue) -> None:
    assert binance.fake is not None
    token, ws, _ = await binance.trader()
    placed = await binance.place(token, side="BUY", type="LIMIT", quantity="0.01", price="49000", timeInForce="GTC")
    await ws.order_status(placed["orderId"], {"NEW"})
    binance.fake.trade("BTCUSDT", Decimal("48000"))  # fills at the exchange before our cancel arrives
    resp = await binance.client.delete(f"/api/trading/orders/{placed['orderId']}", headers=auth(token))
    assert resp.status == 202
    await ws.order_status(placed["orderId"], {"FILLED"})
    statuses = [m["status"] for m in ws.seen if m.get("type") == "ORDER_UPDATE" and m["orderId"] == placed["orderId"]]
    assert "CANCELED" not in statuses
    order = await (await binance.client.get(f"/api/trading/orders/{placed['orderId']}", headers=auth(token))).json()
    assert order["status"] == "FILLED" and len(order["fills"]) == 1


async def test_without_keys_or_with_wrong_keys_orders_are_rejected_clearly(binance: Venue) -> None:
    assert binance.fake is not None
    token, ws, _ = await binance.trader(with_keys=False)
    placed = await binance.place(token, side="BUY", type="MARKET", quantity="0.01")
    rejected = await ws.order_status(placed["orderId"], {"REJECTED"})
    assert "account page" in rejected["rejectReason"]
    resp = await binance.client.put("/api/account/exchange-key", headers=auth(token),
                                    json={"apiKey": "NotKnownToBinance0001", "secretKey": "WhateverSecret000001"})
    assert resp.status == 200
    placed = await binance.place(token, side="BUY", type="MARKET", quantity="0.01")
    rejected = await ws.order_status(placed["orderId"], {"REJECTED"})
    assert "refused your API key" in rejected["rejectReason"] and "-2015" in rejected["rejectReason"]
    assert binance.fake.orders == []


async def test_oco_take_profit_fills_at_binance_and_the_stop_leg_expires(binance: Venue) -> None:
    assert binance.fake is not None
    token, ws, _ = await binance.trader()
    resp = await binance.client.post("/api/trading/orderList/oco", headers=auth(token), json={
        "symbol": "BTCUSDT", "side": "SELL", "quantity": "0.1", "price": "52000", "stopPrice": "48000",
        "stopLimitPrice": "47900", "stopLimitTimeInForce": "GTC", "listClientOrderId": "exit"})
    assert resp.status == 202, await resp.text()
    tp, sl = (await resp.json())["orders"]
    assert (tp["type"], sl["type"]) == ("LIMIT_MAKER", "STOP_LOSS_LIMIT")
    await ws.order_status(tp["orderId"], {"NEW"})
    sent = next(r for r in binance.fake.requests if r[1] == "/api/v3/orderList/oco")[2]
    assert (sent["aboveType"], sent["abovePrice"], sent["belowType"], sent["belowStopPrice"],
            sent["belowPrice"]) == ("LIMIT_MAKER", "52000", "STOP_LOSS_LIMIT", "48000", "47900")
    binance.fake.trade("BTCUSDT", Decimal("52100"))
    filled = await ws.order_status(tp["orderId"], {"FILLED"})
    assert Decimal(filled["cummulativeQuoteQty"]) == Decimal("5200")
    await ws.order_status(sl["orderId"], {"EXPIRED"})
    await ws.wait_for(balance_event("BTC", lambda free, locked: locked == 0 and free == Decimal("0.9")))
