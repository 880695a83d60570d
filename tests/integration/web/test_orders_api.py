"""The order path over real HTTP and WebSocket, against real Redis and a real database."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.money import credit, debit, to_str
from tests.support.helpers import auth, dec, open_ws, register
from tests.support.invariants import check_ledger, check_orders
from tests.support.scripted_market import Market


async def _balances(client: Any, token: str) -> dict[str, tuple[Decimal, Decimal]]:
    resp = await client.get("/api/trading/balances", headers=auth(token))
    assert resp.status == 200
    return {b["asset"]: (Decimal(b["free"]), Decimal(b["locked"])) for b in (await resp.json())["balances"]}


async def _position(client: Any, token: str, asset: str) -> dict[str, Any]:
    resp = await client.get("/api/trading/positions", headers=auth(token))
    assert resp.status == 200
    return next(p for p in (await resp.json())["positions"] if p["asset"] == asset)


async def _place(client: Any, token: str, **order: str) -> tuple[int, dict[str, Any]]:
    resp = await client.post("/api/trading/orders", json=order, headers=auth(token))
    return resp.status, await resp.json()


async def test_market_buy_fills_and_moves_exactly_the_filled_cost(db_client: Any) -> None:
    client = db_client
    token, _ = await register(client)
    ws = await open_ws(client, token)
    before = await _balances(client, token)
    held = await _position(client, token, "BTC")
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
    # The position moves by what was received net of the fee, its entry averaged by cost (8 decimals).
    quantity, avg = dec(held["quantity"]), dec(held["avgEntryPrice"])
    for f in filled["fills"]:
        received = dec(f["qty"]) - dec(f["commission"])
        avg = ((quantity * avg + debit(dec(f["price"]) * dec(f["qty"]))) / (quantity + received)).quantize(
            Decimal("0.00000001"))
        quantity += received
    position_event = await ws.wait_for(lambda m: m["type"] == "POSITION_UPDATE")
    expected = {"asset": "BTC", "quantity": to_str(quantity), "avgEntryPrice": to_str(avg),
                "realizedPnl": held["realizedPnl"]}
    assert position_event == {"type": "POSITION_UPDATE", "positions": [expected], "ts": None}
    now = await _position(client, token, "BTC")
    assert {k: now[k] for k in expected} == expected
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
    market = Market(client)
    market.tick("65000")
    # Both rest whichever market the executor has seen (the simulated one near 67250, or 65000):
    # a buy far below the ask, a sell far above the bid. The test's ticks then cross each in turn.
    orders = {}
    for side, price in (("BUY", "60000.00"), ("SELL", "70000.00")):
        status, body = await _place(client, token, symbol="BTCUSDT", side=side, type="LIMIT", quantity="0.001",
                                    price=price)
        assert status == 202, body
        await ws.order_status(body["orderId"], {"NEW"})
        orders[side] = body["orderId"]
    for side, crossing, limit in (("BUY", "59000", Decimal("60000")), ("SELL", "71000", Decimal("70000"))):
        market.tick(crossing)
        filled = await ws.order_status(orders[side], {"FILLED"}, timeout=30)
        fill_prices = [dec(f["price"]) for f in filled["fills"]]
        # An order that rested first (NEW) is a maker: it fills exactly at its own price, never worse.
        assert all(p <= limit for p in fill_prices) if side == "BUY" else all(p >= limit for p in fill_prices)
        assert fill_prices == [limit]
        assert (dec(filled["price"]), dec(filled["executedQty"]), dec(filled["cummulativeQuoteQty"])) == (
            limit, Decimal("0.001"), limit * Decimal("0.001"))
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
    held = await _position(client, token, "BTC")
    _, body = await _place(client, token, symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.5")
    filled = await ws.order_status(body["orderId"], {"FILLED"})
    btc = await _position(client, token, "BTC")
    assert dec(btc["quantity"]) == Decimal("0.5")
    assert btc["markPrice"] is not None
    assert dec(btc["unrealizedPnl"]) == ((dec(btc["markPrice"]) - dec(btc["avgEntryPrice"]))
                                         * Decimal("0.5")).quantize(Decimal("0.00000001"))
    # Each fill realizes its proceeds (rounded down, less the fee) minus its cost at the average entry.
    entry = dec(held["avgEntryPrice"])
    assert btc["avgEntryPrice"] == held["avgEntryPrice"]
    realized = sum(((credit(dec(f["price"]) * dec(f["qty"])) - dec(f["commission"]) - dec(f["qty"]) * entry)
                    .quantize(Decimal("0.00000001")) for f in filled["fills"]), dec(held["realizedPnl"]))
    assert all(f["commissionAsset"] == "USDT" for f in filled["fills"])
    assert btc["realizedPnl"] == to_str(realized)
