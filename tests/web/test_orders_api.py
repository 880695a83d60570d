"""The order path over real HTTP and WebSocket, against real Redis and a real database."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.money import debit
from tests.helpers import auth, dec, open_ws, register
from tests.invariants import check_ledger, check_orders


async def _balances(client: Any, token: str) -> dict[str, tuple[Decimal, Decimal]]:
    resp = await client.get("/api/trading/balances", headers=auth(token))
    assert resp.status == 200
    return {b["asset"]: (Decimal(b["free"]), Decimal(b["locked"])) for b in (await resp.json())["balances"]}


async def _place(client: Any, token: str, **order: str) -> tuple[int, dict[str, Any]]:
    resp = await client.post("/api/trading/orders", json=order, headers=auth(token))
    return resp.status, await resp.json()


async def test_market_buy_fills_and_moves_exactly_the_filled_cost(db_client: Any) -> None:
    client = db_client
    token, _ = await register(client)
    ws = await open_ws(client, token)
    before = await _balances(client, token)
    status, body = await _place(client, token, symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.05")
    assert status == 202 and body["status"] == "PENDING"
    filled = await ws.order_status(body["orderId"], {"FILLED", "REJECTED"})
    assert filled["status"] == "FILLED", filled
    assert dec(filled["executedQty"]) == Decimal("0.05")
    cost = sum((debit(dec(f["price"]) * dec(f["qty"])) for f in filled["fills"]), Decimal(0))
    fee = sum((dec(f["commission"]) for f in filled["fills"]), Decimal(0))
    after = await _balances(client, token)
    assert after["USDT"][0] == before["USDT"][0] - cost
    assert after["BTC"][0] == before["BTC"][0] + Decimal("0.05") - fee
    assert dec(filled["cummulativeQuoteQty"]) == sum((dec(f["price"]) * dec(f["qty"]) for f in filled["fills"]),
                                                     Decimal(0))
    balance_event = await ws.wait_for(lambda m: m["type"] == "BALANCE_UPDATE")
    assert {b["asset"] for b in balance_event["balances"]} == {"BTC", "USDT"}
    await ws.wait_for(lambda m: m["type"] == "POSITION_UPDATE")
    await ws.close()
    check_ledger()
    check_orders()


async def test_sell_by_quote_amount_walks_the_book(db_client: Any) -> None:
    client = db_client
    token, _ = await register(client)
    ws = await open_ws(client, token)
    status, body = await _place(client, token, symbol="ETHUSDT", side="SELL", type="MARKET", quoteOrderQty="30000")
    assert status == 202
    done = await ws.order_status(body["orderId"], {"FILLED", "REJECTED", "EXPIRED"})
    assert done["status"] == "FILLED"
    assert len(done["fills"]) > 1  # several levels, several fills
    prices = [dec(f["price"]) for f in done["fills"]]
    assert min(prices) <= dec(done["avgPrice"]) <= max(prices)
    assert dec(done["cummulativeQuoteQty"]) <= Decimal("30000")
    check_ledger()


async def test_limit_order_locks_funds_and_cancel_releases_them_once(db_client: Any) -> None:
    client = db_client
    token, _ = await register(client)
    ws = await open_ws(client, token)
    before = await _balances(client, token)
    status, body = await _place(client, token, symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.01",
                                price="1000.00")
    assert status == 202
    await ws.order_status(body["orderId"], {"NEW"})
    locked = await _balances(client, token)
    assert locked["USDT"] == (before["USDT"][0] - Decimal("10"), Decimal("10"))
    resp = await client.delete(f"/api/trading/orders/{body['orderId']}", headers=auth(token))
    assert resp.status == 202
    await ws.order_status(body["orderId"], {"CANCELED"})
    assert (await _balances(client, token))["USDT"] == (before["USDT"][0], Decimal(0))
    again = await client.delete(f"/api/trading/orders/{body['orderId']}", headers=auth(token))
    assert again.status == 409
    assert (await again.json())["code"] == "ORDER_NOT_CANCELABLE"
    check_ledger()
    check_orders()


async def test_marketable_limit_sell_fills_at_or_above_its_price(db_client: Any) -> None:
    client = db_client
    token, _ = await register(client)
    ws = await open_ws(client, token)
    status, body = await _place(client, token, symbol="SOLUSDT", side="SELL", type="LIMIT", quantity="1.000",
                                price="100.00")
    assert status == 202, body
    done = await ws.order_status(body["orderId"], {"FILLED"})
    assert all(dec(f["price"]) >= Decimal("100") for f in done["fills"])
    balances = await _balances(client, token)
    assert balances["SOL"] == (Decimal("99"), Decimal(0))
    check_ledger()
    check_orders()


async def test_resting_limit_order_fills_when_the_market_crosses_it(db_client: Any) -> None:
    client = db_client
    token, _ = await register(client)
    ws = await open_ws(client, token)
    ticker = await (await client.get("/api/market/ticker?symbol=BTCUSDT")).json()
    # A buy just above the bid rests (below the ask) and fills once the ask drifts down to it,
    # or a sell just below the ask fills when the bid rises: place both, one of them will cross.
    bid, ask = dec(ticker["bid"]), dec(ticker["ask"])
    ids = []
    for side, price in (("BUY", bid + Decimal("0.01")), ("SELL", ask - Decimal("0.01"))):
        status, body = await _place(client, token, symbol="BTCUSDT", side=side, type="LIMIT", quantity="0.001",
                                    price=str(price))
        assert status == 202
        ids.append(body["orderId"])
    filled = await ws.wait_for(lambda m: m["type"] == "ORDER_UPDATE" and m["orderId"] in ids
                               and m["status"] == "FILLED", timeout=60)
    limit, fill_prices = dec(filled["price"]), [dec(f["price"]) for f in filled["fills"]]
    # Never worse than the limit: a taker (the market moved while the order was on its way) may
    # do better; an order that rested first (NEW) is a maker and fills exactly at its own price.
    assert all(p <= limit for p in fill_prices) if filled["side"] == "BUY" else all(p >= limit for p in fill_prices)
    rested = any(m.get("orderId") == filled["orderId"] and m.get("status") == "NEW" for m in ws.seen)
    if rested:
        assert fill_prices == [limit]
    check_ledger()
    check_orders()


async def test_same_client_order_id_returns_the_same_order_and_conflicts_on_change(db_client: Any) -> None:
    client = db_client
    token, _ = await register(client)
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "1000",
             "clientOrderId": "my-order-1"}
    s1, b1 = await _place(client, token, **order)
    s2, b2 = await _place(client, token, **order)
    assert s1 == 202 and s2 == 200 and b1["orderId"] == b2["orderId"]
    s3, b3 = await _place(client, token, **{**order, "price": "1001"})
    assert s3 == 409 and b3["code"] == "DUPLICATE_CLIENT_ORDER_ID"
    other, _ = await register(client)
    s4, b4 = await _place(client, other, **order)  # the key is per user
    assert s4 == 202 and b4["orderId"] != b1["orderId"]
    resp = await client.get("/api/trading/orders?status=OPEN", headers=auth(token))
    assert [o["orderId"] for o in (await resp.json())["orders"]] == [b1["orderId"]]


async def test_users_never_see_each_others_orders_or_events(db_client: Any) -> None:
    client = db_client
    alice, _ = await register(client)
    bob, _ = await register(client)
    bob_ws = await open_ws(client, bob)
    _, body = await _place(client, alice, symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.01", price="1000")
    order_id = body["orderId"]
    for method, path in (("GET", f"/api/trading/orders/{order_id}"), ("DELETE", f"/api/trading/orders/{order_id}")):
        resp = await client.request(method, path, headers=auth(bob))
        assert resp.status == 404, (method, await resp.text())
    listing = await (await client.get("/api/trading/orders", headers=auth(bob))).json()
    assert listing["orders"] == []
    # Bob's own order produces an event; nothing of Alice's arrives before it.
    _, mine = await _place(client, bob, symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.01", price="1000")
    await bob_ws.order_status(mine["orderId"], {"NEW"})
    assert all(m.get("orderId") != order_id for m in bob_ws.seen)
    own = await client.get(f"/api/trading/orders/{order_id}", headers=auth(alice))
    assert own.status == 200 and (await own.json())["orderId"] == order_id


async def test_insufficient_balance_is_rejected_with_a_reason_and_changes_nothing(db_client: Any) -> None:
    client = db_client
    token, _ = await register(client)
    ws = await open_ws(client, token)
    before = await _balances(client, token)
    _, body = await _place(client, token, symbol="BTCUSDT", side="BUY", type="MARKET", quantity="5")
    rejected = await ws.order_status(body["orderId"], {"REJECTED", "FILLED"})
    assert rejected["status"] == "REJECTED" and "insufficient balance" in rejected["rejectReason"]
    assert await _balances(client, token) == before


async def test_positions_report_entry_mark_and_pnl(db_client: Any) -> None:
    client = db_client
    token, _ = await register(client)
    ws = await open_ws(client, token)
    _, body = await _place(client, token, symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.5")
    await ws.order_status(body["orderId"], {"FILLED"})
    resp = await client.get("/api/trading/positions", headers=auth(token))
    btc = next(p for p in (await resp.json())["positions"] if p["asset"] == "BTC")
    assert dec(btc["quantity"]) == Decimal("0.5")
    assert btc["markPrice"] is not None
    assert dec(btc["unrealizedPnl"]) == ((dec(btc["markPrice"]) - dec(btc["avgEntryPrice"]))
                                         * Decimal("0.5")).quantize(Decimal("0.00000001"))
    assert btc["realizedPnl"] != "0"
