"""One order suite, two exchanges: the simulator, and Binance (the strict local fake) through
EXCHANGE=binance with the user's own keys. The API and the WebSocket must not tell them apart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.helpers import auth
from tests.support.venues import Venue, balance_event, open_venue


@pytest.fixture(params=["simulator", "binance"])
async def venue(request: pytest.FixtureRequest, aiohttp_client: Any, tmp_path: Path, sqlite_url: str,
                redis_url: str) -> AsyncIterator[Venue]:
    async for v in open_venue(request.param, aiohttp_client, tmp_path, sqlite_url, redis_url):
        yield v


async def test_market_buy_fills_and_costs_exactly_its_quote_amount(venue: Venue) -> None:
    token, ws, _ = await venue.trader()
    usdt_before, _ = await venue.balance(token, "USDT")
    placed = await venue.place(token, side="BUY", type="MARKET", quantity="0.01")
    filled = await ws.order_status(placed["orderId"], {"FILLED"})
    cost = Decimal(filled["cummulativeQuoteQty"])
    assert Decimal(filled["executedQty"]) == Decimal("0.01") and cost > 0
    assert sum(Decimal(f["qty"]) for f in filled["fills"]) == Decimal("0.01")
    await ws.wait_for(balance_event("USDT", lambda free, locked: free == usdt_before - cost))
    assert await venue.balance(token, "USDT") == (usdt_before - cost, 0)
    positions = await (await venue.client.get("/api/trading/positions", headers=auth(token))).json()
    btc = next(p for p in positions["positions"] if p["asset"] == "BTC")
    assert Decimal(btc["quantity"]) > Decimal("1")


async def test_limit_order_rests_locks_funds_and_cancel_releases_them_once(venue: Venue) -> None:
    token, ws, _ = await venue.trader()
    placed = await venue.place(token, side="BUY", type="LIMIT", quantity="0.01", price="1000", timeInForce="GTC")
    await ws.order_status(placed["orderId"], {"NEW"})
    await ws.wait_for(balance_event("USDT", lambda free, locked: locked == Decimal("10")))
    ws.seen.clear()  # from here on, only the cancel's own updates count
    resp = await venue.client.delete(f"/api/trading/orders/{placed['orderId']}", headers=auth(token))
    assert resp.status == 202
    await ws.order_status(placed["orderId"], {"CANCELED"})
    await ws.wait_for(balance_event("USDT", lambda free, locked: locked == 0 and free == Decimal("10000")))
    assert await venue.balance(token, "USDT") == (Decimal("10000"), 0)
    again = await venue.client.delete(f"/api/trading/orders/{placed['orderId']}", headers=auth(token))
    # Once CANCELED the order is over on both venues: the API refuses the second cancel the same way.
    assert again.status == 409, await again.text()
    assert (await again.json())["code"] == "ORDER_NOT_CANCELABLE"


async def test_filter_failures_are_refused_at_the_api_naming_the_filter(venue: Venue) -> None:
    token, _, _ = await venue.trader()
    limit = {"type": "LIMIT", "timeInForce": "GTC"}
    for order, name in (({"type": "MARKET", "quantity": "0.000015"}, "LOT_SIZE"),
                        ({**limit, "quantity": "0.01", "price": "100"}, "NOTIONAL"),
                        ({**limit, "quantity": "0.01", "price": "50000.001"}, "PRICE_FILTER")):
        resp = await venue.client.post("/api/trading/orders", headers=auth(token),
                                       json={"symbol": "BTCUSDT", "side": "BUY", **order})
        assert resp.status == 422
        assert (await resp.json())["detail"].startswith(name)
    if venue.fake is not None:
        assert venue.fake.orders == [], "nothing reached the exchange"


async def test_insufficient_balance_is_a_rejected_order_with_the_reason(venue: Venue) -> None:
    token, ws, _ = await venue.trader()
    placed = await venue.place(token, side="BUY", type="MARKET", quantity="5")
    rejected = await ws.order_status(placed["orderId"], {"REJECTED"})
    assert "insufficient balance" in rejected["rejectReason"].lower()
    assert await venue.balance(token, "USDT") == (Decimal("10000"), 0)


async def test_stop_orders_wait_with_their_funds_reserved_and_refuse_to_trigger_at_once(venue: Venue) -> None:
    token, ws, _ = await venue.trader()
    wrong = await venue.place(token, side="SELL", type="STOP_LOSS", quantity="0.1", stopPrice="900000")
    rejected = await ws.order_status(wrong["orderId"], {"REJECTED"})
    assert "Order would trigger immediately." in rejected["rejectReason"]
    placed = await venue.place(token, side="SELL", type="STOP_LOSS_LIMIT", quantity="0.1", stopPrice="1000",
                               price="990", timeInForce="GTC")
    new = await ws.order_status(placed["orderId"], {"NEW"})
    assert new["stopPrice"] == "1000" and new["orderType"] == "STOP_LOSS_LIMIT"
    await ws.wait_for(balance_event("BTC", lambda free, locked: locked == Decimal("0.1")))
    ws.seen.clear()
    resp = await venue.client.delete(f"/api/trading/orders/{placed['orderId']}", headers=auth(token))
    assert resp.status == 202
    await ws.order_status(placed["orderId"], {"CANCELED"})
    await ws.wait_for(balance_event("BTC", lambda free, locked: locked == 0 and free == Decimal("1")))


async def test_oco_waits_with_one_reservation_and_cancels_as_a_list(venue: Venue) -> None:
    token, ws, _ = await venue.trader()
    resp = await venue.client.post("/api/trading/orderList/oco", headers=auth(token), json={
        "symbol": "BTCUSDT", "side": "SELL", "quantity": "0.1", "price": "900000", "stopPrice": "1000",
        "listClientOrderId": "plan-a"})
    assert resp.status == 202, await resp.text()
    tp, sl = ((await resp.json())["orders"])
    await ws.order_status(tp["orderId"], {"NEW"})
    await ws.order_status(sl["orderId"], {"NEW"})
    await ws.wait_for(balance_event("BTC", lambda free, locked: locked == Decimal("0.1")))
    ws.seen.clear()
    assert (await venue.client.delete(f"/api/trading/orders/{sl['orderId']}", headers=auth(token))).status == 202
    await ws.order_status(tp["orderId"], {"CANCELED"}, timeout=15)
    await ws.order_status(sl["orderId"], {"CANCELED"}, timeout=15)
    await ws.wait_for(balance_event("BTC", lambda free, locked: locked == 0 and free == Decimal("1")))
    if venue.fake is not None:
        assert {o.client_order_id for o in venue.fake.orders} == {"plan-a-tp", "plan-a-sl"}


async def test_same_client_order_id_is_one_order(venue: Venue) -> None:
    token, ws, _ = await venue.trader()
    order = {"side": "BUY", "type": "MARKET", "quantity": "0.001", "clientOrderId": "once-only"}
    first = await venue.place(token, **order)
    await ws.order_status(first["orderId"], {"FILLED"})
    again = await venue.client.post("/api/trading/orders", json={"symbol": "BTCUSDT", **order}, headers=auth(token))
    assert again.status == 200 and (await again.json())["orderId"] == first["orderId"]
    if venue.fake is not None:
        assert len(venue.fake.orders_with("once-only")) == 1


async def test_an_amend_moves_one_order_and_its_reservation(venue: Venue) -> None:
    """Binance has no atomic amend: there the cancel commits first, then the new order is sent; the trader
    still sees one order move, and its funds locked once."""
    token, ws, _ = await venue.trader()
    placed = await venue.place(token, side="BUY", type="LIMIT", quantity="0.01", price="1000", timeInForce="GTC")
    await ws.order_status(placed["orderId"], {"NEW"})
    resp = await venue.client.post(f"/api/trading/orders/{placed['orderId']}/replace", headers=auth(token),
                                   json={"price": "1200", "clientOrderId": "amend-venue"})
    assert resp.status == 202, await resp.text()
    new = (await resp.json())["orderId"]
    await ws.order_status(placed["orderId"], {"CANCELED"})
    moved = await ws.order_status(new, {"NEW", "REJECTED"})
    assert moved["status"] == "NEW" and moved["price"] == "1200", moved
    await ws.wait_for(balance_event("USDT", lambda free, locked: locked == Decimal("12")))
    assert await venue.balance(token, "USDT") == (Decimal("9988"), Decimal("12"))
    listed = await (await venue.client.get("/api/trading/orders?status=OPEN", headers=auth(token))).json()
    assert [o["orderId"] for o in listed["orders"]] == [new]
