"""History through the API and the real actors: fills and their CSV export (re-imported and compared with
the API row by row), the equity curve recorded by the executor shard, daily PnL, and the account reset
(orders canceled, CFD positions closed, a fresh wallet, the ledger still balanced, history kept and marked).

The test drives the market itself (`tests/support/scripted_market.py`), so every price is known exactly.
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from app.history import iso_time
from app.persistence.models import LedgerRow
from tests.support.apps import make_settings, running_app
from tests.support.helpers import PASSWORD, auth, dec, open_ws, register
from tests.support.invariants import check_ledger, check_orders
from tests.support.scripted_market import Market
from tests.support.venues import open_venue

WALLET = (("USDT", Decimal(10000)), ("BTC", Decimal(1)))


async def _app(aiohttp_client: Any, tmp_path: Path, database_url: str, redis_url: str) -> Any:
    settings = replace(make_settings(tmp_path, database_url, redis_url), starting_wallet=WALLET)
    return running_app(aiohttp_client, settings)


async def _get(client: Any, path: str, token: str) -> Any:
    resp = await client.get(path, headers=auth(token))
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def _buy(client: Any, token: str, ws: Any, qty: str) -> dict[str, Any]:
    resp = await client.post("/api/trading/orders", headers=auth(token),
                             json={"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": qty})
    assert resp.status == 202, await resp.text()
    return await ws.order_status((await resp.json())["orderId"], {"FILLED"})


async def _balances(client: Any, token: str) -> dict[str, tuple[Decimal, Decimal]]:
    rows = (await _get(client, "/api/trading/balances", token))["balances"]
    return {b["asset"]: (dec(b["free"]), dec(b["locked"])) for b in rows}


async def test_fills_csv_export_equals_the_api_row_by_row(aiohttp_client: Any, tmp_path: Path, database_url: str,
                                                          redis_url: str) -> None:
    async for client in await _app(aiohttp_client, tmp_path, database_url, redis_url):
        token, _ = await register(client)
        ws = await open_ws(client, token)
        market = Market(client)
        market.tick("65000")
        for qty in ("0.01", "0.02", "0.03"):
            await _buy(client, token, ws, qty)
        other, _ = await register(client)  # someone else's fills are never listed
        await _buy(client, other, await open_ws(client, other), "0.05")

        listed: list[dict[str, Any]] = []
        cursor = ""
        while True:
            page = await _get(client, f"/api/trading/fills?limit=2{cursor}", token)
            listed += page["fills"]
            if page["nextCursor"] is None:
                break
            cursor = f"&cursor={page['nextCursor']}"
        assert len(listed) >= 3 and all(f["symbol"] == "BTCUSDT" and f["side"] == "BUY" for f in listed)
        assert [f["id"] for f in listed] == sorted((f["id"] for f in listed), reverse=True), "newest first"
        assert sum(dec(f["qty"]) for f in listed) == Decimal("0.06")

        resp = await client.get("/api/trading/fills.csv", headers=auth(token))
        assert resp.status == 200 and resp.content_type == "text/csv"
        assert resp.headers["Content-Disposition"].startswith('attachment; filename="troupe-fills-')
        rows = list(csv.DictReader(io.StringIO(await resp.text())))
        assert len(rows) == len(listed)
        for row, api in zip(rows, listed, strict=True):
            expected = {k: iso_time(v) if k == "time" else str(v) for k, v in api.items()}
            assert row == expected, (row, api)
            assert Decimal(row["price"]) == Decimal(api["price"]) and "E" not in row["qty"]

        start = min(f["time"] for f in listed)
        assert len((await _get(client, f"/api/trading/fills?from={start + 10**9}", token))["fills"]) == 0
        since = iso_time(start).replace(".000", "")
        assert len((await _get(client, f"/api/trading/fills?from={since}&symbol=BTCUSDT", token))["fills"]) >= 1
        bad = await client.get("/api/trading/fills?from=yesterday", headers=auth(token))
        assert bad.status == 400 and (await bad.json())["field"] == "from"
        bad = await client.get("/api/trading/fills?symbol=NOPE", headers=auth(token))
        assert bad.status == 400 and (await bad.json())["field"] == "symbol"

        orders = (await _get(client, "/api/trading/orders?limit=500", token))["orders"]
        resp = await client.get("/api/trading/orders.csv", headers=auth(token))
        exported = list(csv.DictReader(io.StringIO(await resp.text())))
        assert len(exported) == len(orders)
        for row, api in zip(exported, orders, strict=True):
            for key in ("orderId", "clientOrderId", "symbol", "status", "origQty", "executedQty",
                        "cummulativeQuoteQty", "avgPrice"):
                assert row[key] == ("" if api[key] is None else str(api[key])), key
            assert row["time"] == iso_time(api["time"]) and row["epoch"] == "0"
        await ws.close()


async def test_equity_points_are_spot_balances_at_marks_plus_cfd_equity(aiohttp_client: Any, tmp_path: Path,
                                                                        sqlite_url: str, redis_url: str) -> None:
    async for client in await _app(aiohttp_client, tmp_path, sqlite_url, redis_url):
        token, _ = await register(client)
        ws = await open_ws(client, token)
        market = Market(client)
        market.tick("65000")
        await _buy(client, token, ws, "0.1")
        curve = await _get(client, "/api/account/equity", token)
        # the newest point: the fill's, or a minute's after it (the same balances at the same mark)
        assert curve["points"][-1]["reason"] in ("FILL", "MINUTE"), curve
        held = await _balances(client, token)
        expected = held["USDT"][0] + held["USDT"][1] + (held["BTC"][0] + held["BTC"][1]) * Decimal(65000)
        assert dec(curve["points"][-1]["equity"]) == expected, "balances at the executor's mark, exactly"
        assert curve["interval"] == "5m" and curve["resets"] == [], "a day in at most 1000 points: 5 minutes"
        assert set(curve["now"]) == {"time", "equity", "spot", "cfd", "unpriced", "assets"}
        assets = {a["asset"]: dec(a["value"]) for a in curve["now"]["assets"]}
        assert sum(assets.values()) == dec(curve["now"]["spot"]), "the allocation adds up to the spot value"
        assert assets["USDT"] == held["USDT"][0] + held["USDT"][1]

        # with a CFD position: spot at marks plus the desk's equity (free margin + margin + unrealized PnL)
        resp = await client.post("/api/cfd/positions", headers=auth(token), json={
            "symbol": "BTCUSDT", "direction": "LONG", "margin": "100", "leverage": "10"})
        assert resp.status == 201, await resp.text()
        market.tick("66000")
        await _buy(client, token, ws, "0.01")
        curve = await _get(client, "/api/account/equity?interval=1m", token)
        point = curve["points"][-1]
        held = await _balances(client, token)
        account = (await _get(client, "/api/cfd/account", token))
        spot = held["USDT"][0] + held["USDT"][1] + (held["BTC"][0] + held["BTC"][1]) * Decimal(66000)
        position = (await _get(client, "/api/cfd/positions?status=open", token))["positions"][0]
        entry, qty = dec(position["entryPrice"]), dec(position["quantity"])
        upnl = ((Decimal("65999.5") - entry) * qty).quantize(Decimal("0.00000001"))  # a long closes at the bid
        assert dec(point["equity"]) == spot + dec(account["balance"]) + dec(position["margin"]) + upnl

        everything = await _get(client, "/api/account/equity?from=0", token)
        assert everything["interval"] == "1d" and everything["points"][-1] == curve["points"][-1]
        days = (await _get(client, "/api/account/pnl/daily", token))["days"]
        assert len(days) == 1 and dec(days[0]["flows"]) == 0
        assert dec(days[0]["pnl"]) == dec(days[0]["close"]) - dec(days[0]["open"])
        bad = await client.get("/api/account/equity?interval=2m", headers=auth(token))
        assert bad.status == 400 and (await bad.json())["field"] == "interval"
        bad = await client.get("/api/account/pnl/daily?from=2026-13-01", headers=auth(token))
        assert bad.status == 400 and (await bad.json())["field"] == "from"
        await ws.close()


async def test_reset_cancels_closes_gives_a_fresh_wallet_and_keeps_history(
        aiohttp_client: Any, tmp_path: Path, database_url: str, redis_url: str) -> None:
    async for client in await _app(aiohttp_client, tmp_path, database_url, redis_url):
        token, _ = await register(client)
        ws = await open_ws(client, token)
        market = Market(client)
        market.tick("65000")
        before_fill = await _buy(client, token, ws, "0.1")
        resp = await client.post("/api/trading/orders", headers=auth(token), json={
            "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "50000",
            "timeInForce": "GTC"})
        resting = (await resp.json())["orderId"]
        await ws.order_status(resting, {"NEW"})
        resp = await client.post("/api/cfd/positions", headers=auth(token), json={
            "symbol": "BTCUSDT", "direction": "SHORT", "margin": "200", "leverage": "5"})
        assert resp.status == 201
        position = (await resp.json())["position"]["id"]

        wrong = await client.post("/api/account/reset", headers=auth(token), json={"password": "not it"})
        assert wrong.status == 403 and (await wrong.json())["code"] == "WRONG_PASSWORD"
        assert (await _get(client, f"/api/trading/orders/{resting}", token))["status"] == "NEW", "nothing done"
        bad = await client.post("/api/account/reset", headers=auth(token), json={"password": PASSWORD, "x": 1})
        assert bad.status == 400 and (await bad.json())["field"] == "x"

        resp = await client.post("/api/account/reset", headers=auth(token),
                                 json={"password": PASSWORD, "clientRequestId": "start-over-1"})
        assert resp.status == 200, await resp.text()
        done = await resp.json()
        assert done["repeated"] is False and done["reset"]["number"] == 1
        assert done["reset"]["canceledOrders"] == 1 and done["reset"]["closedPositions"] == 1

        assert (await _get(client, f"/api/trading/orders/{resting}", token))["status"] == "CANCELED"
        closed = await _get(client, f"/api/cfd/positions/{position}", token)
        assert closed["status"] == "CLOSED"
        resp = await client.get("/api/cfd/history.csv", headers=auth(token))
        assert resp.headers["Content-Disposition"].startswith('attachment; filename="troupe-cfd-')
        [row] = list(csv.DictReader(io.StringIO(await resp.text())))
        for key, value in closed.items():
            if key in row:
                expected = "" if value is None else iso_time(value) if key in ("openedAt", "closedAt") else str(value)
                assert row[key] == expected, key
        assert row["epoch"] == "0" and Decimal(row["exitPrice"]) > 0
        assert await _balances(client, token) == {"USDT": (Decimal(10000), Decimal(0)),
                                                  "BTC": (Decimal(1), Decimal(0))}
        account = await _get(client, "/api/cfd/account", token)
        assert dec(account["balance"]) == Decimal(1000) and dec(account["usedMargin"]) == 0, "margin granted afresh"
        positions = {p["asset"]: p for p in (await _get(client, "/api/trading/positions", token))["positions"]}
        assert positions["BTC"]["quantity"] == "1" and positions["BTC"]["realizedPnl"] == "0"
        check_ledger()  # every asset still sums to zero; nothing was deleted
        check_orders()
        assert LedgerRow.select().where(LedgerRow.ref_type == "reset").count() > 0

        again = await client.post("/api/account/reset", headers=auth(token),
                                  json={"password": PASSWORD, "clientRequestId": "start-over-1"})
        assert again.status == 200 and (await again.json()) == {**done, "repeated": True}, "a retry resets nothing"

        curve = await _get(client, "/api/account/equity", token)
        assert [r["number"] for r in curve["resets"]] == [1]
        assert dec(curve["points"][-1]["equity"]) == Decimal(10000) + Decimal(65000) + Decimal(1000)
        assert sum(dec(p["flow"]) for p in curve["points"]) != 0, "the reset's fresh wallet is a flow, not PnL"

        after_fill = await _buy(client, token, ws, "0.01")
        fills = (await _get(client, "/api/trading/fills", token))["fills"]
        epochs = {f["orderId"]: f["epoch"] for f in fills}
        assert epochs[before_fill["orderId"]] == 0 and epochs[after_fill["orderId"]] == 1, "history marked"
        days = (await _get(client, "/api/account/pnl/daily", token))["days"]
        assert dec(days[-1]["pnl"]) == dec(days[-1]["close"]) - dec(days[-1]["open"]) - dec(days[-1]["flows"])
        await ws.close()


async def test_wrong_reset_passwords_count_against_the_login_limits(make_client: Any) -> None:
    client = await make_client(login_failures_per_min=2)
    token, _ = await register(client)
    for _ in range(2):
        wrong = await client.post("/api/account/reset", headers=auth(token), json={"password": "guess"})
        assert wrong.status == 403 and (await wrong.json())["field"] == "password"
    limited = await client.post("/api/account/reset", headers=auth(token), json={"password": PASSWORD})
    assert limited.status == 429, "even the right password waits once the failures budget is spent"
    unauthenticated = await client.post("/api/account/reset", json={"password": PASSWORD})
    assert unauthenticated.status == 401
    assert (await client.get("/api/trading/fills.csv")).status == 401


async def test_with_binance_an_account_cannot_be_reset(aiohttp_client: Any, tmp_path: Path, sqlite_url: str,
                                                       redis_url: str) -> None:
    async for venue in open_venue("binance", aiohttp_client, tmp_path, sqlite_url, redis_url):
        token, ws, _ = await venue.trader()
        resp = await venue.client.post("/api/account/reset", headers=auth(token), json={"password": PASSWORD})
        assert resp.status == 409 and (await resp.json())["code"] == "RESET_UNAVAILABLE"
        await ws.close()
