"""Scenario 36: malformed requests get a 4xx problem document, and nothing changes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.persistence.models import LedgerRow, Order
from tests.support.helpers import auth, register

VALID = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "1000"}

BAD_ORDERS: list[tuple[str, Any]] = [
    ("nan-token", '{"symbol":"BTCUSDT","side":"BUY","type":"MARKET","quantity":NaN}'),
    ("infinity", '{"symbol":"BTCUSDT","side":"BUY","type":"MARKET","quantity":Infinity}'),
    ("huge-exponent", '{"symbol":"BTCUSDT","side":"BUY","type":"MARKET","quantity":1e400}'),
    ("5000 digits", '{"symbol":"BTCUSDT","side":"BUY","type":"MARKET","quantity":' + "9" * 5000 + "}"),
    ("deep nesting", "[" * 100_000 + "]" * 100_000),
    ("truncated", '{"symbol":"BTCUSDT",'),
    ("empty", ""),
    ("array", "[]"),
    ("duplicate key", '{"symbol":"BTCUSDT","side":"BUY","type":"MARKET","quantity":"1","quantity":"0.001"}'),
]
BAD_FIELDS: list[dict[str, Any]] = [
    {"quantity": "NaN"}, {"quantity": "sNaN"}, {"quantity": "-1"}, {"quantity": "0"}, {"quantity": "-0"},
    {"quantity": "0E-30"}, {"quantity": "1e-30"}, {"quantity": "1_000"}, {"quantity": " 1.5 "},
    {"quantity": "١٢٣"}, {"quantity": "１２"}, {"quantity": "0x10"}, {"quantity": "1,5"}, {"quantity": True},
    {"quantity": None}, {"quantity": []}, {"quantity": {}}, {"quantity": "0.001", "price": "1e2"},
    {"symbol": "btcusdt"}, {"symbol": "BTC/USDT"}, {"symbol": "ВТСUSDT"}, {"symbol": "BTC\u200bUSDT"},
    {"symbol": "BTC\x00"}, {"symbol": "X" * 10_000}, {"symbol": "'; DROP TABLE"}, {"symbol": "<script>"},
    {"symbol": "DOGEUSDT"}, {"symbol": 5},
    {"side": "buy"}, {"side": "Buy"}, {"side": "SELL "}, {"side": "sell\n"}, {"type": "STOP"},
    {"userId": 2}, {"status": "FILLED"}, {"executedQty": "1"}, {"fee": "0"}, {"id": 1},
    {"type": "MARKET", "price": "1000"}, {"type": "MARKET", "quoteOrderQty": "100"},
    {"timeInForce": "DAY"}, {"clientOrderId": "has space"}, {"clientOrderId": "x" * 37},
    {"quantity": "0.000001"}, {"price": "1000.001"}, {"quantity": "0.00001", "price": "1"},
    {"quantity": "100000"},
]


async def _assert_nothing_changed(before: tuple[int, int]) -> None:
    assert (Order.select().count(), LedgerRow.select().count()) == before


@pytest.fixture
async def token(client: Any) -> str:
    token, _ = await register(client)
    return token


@pytest.mark.parametrize("name,body", BAD_ORDERS, ids=[b[0] for b in BAD_ORDERS])
async def test_malformed_bodies_are_400(client: Any, token: str, name: str, body: str) -> None:
    before = (Order.select().count(), LedgerRow.select().count())
    resp = await client.post("/api/trading/orders", data=body, headers={**auth(token),
                                                                        "Content-Type": "application/json"})
    assert 400 <= resp.status < 500, (name, resp.status)
    assert resp.content_type == "application/problem+json"
    assert "Traceback" not in await resp.text()
    await _assert_nothing_changed(before)


@pytest.mark.parametrize("change", BAD_FIELDS, ids=[json.dumps(c, ensure_ascii=True)[:40] for c in BAD_FIELDS])
async def test_bad_fields_are_rejected_with_a_reason(client: Any, token: str, change: dict[str, Any]) -> None:
    before = (Order.select().count(), LedgerRow.select().count())
    resp = await client.post("/api/trading/orders", json={**VALID, **change}, headers=auth(token))
    assert resp.status in (400, 409, 415, 422), (change, resp.status, await resp.text())
    problem = await resp.json()
    assert problem["detail"] and problem["status"] == resp.status
    await _assert_nothing_changed(before)


async def test_wrong_content_types_and_sizes(client: Any, token: str) -> None:
    for ctype in ("text/plain", "application/x-www-form-urlencoded"):
        resp = await client.post("/api/trading/orders", data=json.dumps(VALID),
                                 headers={**auth(token), "Content-Type": ctype})
        assert resp.status == 415
    big = await client.post("/api/trading/orders", data="x" * 200_000,
                            headers={**auth(token), "Content-Type": "application/json"})
    assert big.status == 413 and big.content_type == "application/problem+json"


@pytest.mark.parametrize("path", ["/api/trading/orders/-1", "/api/trading/orders/abc",
                                  f"/api/trading/orders/{2**63}", "/api/trading/orders/99999999999999999999999"])
async def test_bad_ids_are_404(client: Any, token: str, path: str) -> None:
    assert (await client.get(path, headers=auth(token))).status == 404
    assert (await client.delete(path, headers=auth(token))).status == 404


@pytest.mark.parametrize("query", ["limit=1000000", "limit=-1", "limit=abc", "cursor=-5", "status=WHATEVER",
                                   "symbol=NOPE"])
async def test_bad_listing_parameters_are_400(client: Any, token: str, query: str) -> None:
    assert (await client.get(f"/api/trading/orders?{query}", headers=auth(token))).status == 400


@pytest.mark.parametrize("path", ["/api/market/candles?symbol=NOPE", "/api/market/candles?symbol=BTCUSDT&interval=7m",
                                  "/api/market/candles?symbol=BTCUSDT&limit=0", "/api/market/ticker?symbol=x"])
async def test_bad_market_queries_are_400(client: Any, path: str) -> None:
    assert (await client.get(path)).status == 400


@pytest.mark.parametrize("body", ['{"email":"a@b.co"}', '{"email":5,"password":"x"}', "[]",
                                  '{"email":"not-an-email","password":"long enough password"}',
                                  '{"email":"a@b.co","password":"long enough password","role":"admin"}',
                                  '{"email":"a@b.co","password":"long enough password",'
                                  '"binanceApiKey":"abcdefghijklmnop1234"}'])
async def test_bad_registrations_are_400(client: Any, body: str) -> None:
    resp = await client.post("/auth/register", data=body, headers={"Content-Type": "application/json"})
    assert resp.status == 400


async def test_unknown_routes_and_methods_are_problem_documents(client: Any) -> None:
    resp = await client.get("/api/nope")
    assert resp.status == 404 and resp.content_type == "application/problem+json"
    resp = await client.put("/api/trading/orders")
    assert resp.status == 405 and resp.content_type == "application/problem+json"
