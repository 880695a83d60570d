"""Binance's errors, provoked one by one on a running Troupe, each compared field by field with
Binance's published list (shared/reference/binance/testnet-errors.md); Binance's signature examples;
request weights and 429; -1007 past the wait with the order still executed once."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from app.api_keys import sign, signed_params
from tests.support.helpers import auth, new_api_key, open_ws, register
from web.binance.edge import EDGE

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "binance" / "testnet-errors.md"
if not REFERENCE.exists():
    REFERENCE = Path("/work/shared/reference/binance/testnet-errors.md")


def published() -> dict[int, list[re.Pattern[str]]]:
    """Each code's documented messages (`%s` stands for any value), and the -2010 table's texts."""
    out: dict[int, list[re.Pattern[str]]] = {}
    code = None
    table: tuple[int, ...] = ()
    for line in REFERENCE.read_text().splitlines():
        if m := re.match(r"### (-\d+)", line):
            code = int(m.group(1))
        elif code is not None and (m := re.match(r"\s*\* (.+)$", line)):
            text = m.group(1).strip()
            out.setdefault(code, []).append(re.compile(re.escape(text).replace("%s", ".+") + r"\.?"))
        elif table and (m := re.match(r'\s*"([^"]+)"\s*\|', line)):
            for c in table:
                out.setdefault(c, []).append(re.compile(re.escape(m.group(1))))
        elif line.startswith("## "):
            code = None
            table = (-1013,) if "Filter failures" in line else (-2010, -2011) if "-2010" in line else ()
    return out


PUBLISHED = published()


def check(status: int, body: dict[str, Any], expected_status: int, code: int) -> None:
    assert set(body) == {"code", "msg"}, body
    assert (status, body["code"]) == (expected_status, code), body
    assert any(p.fullmatch(body["msg"]) for p in PUBLISHED[code]), f"{body['msg']!r} is not one of {code}'s"


def signed_query(key: dict[str, Any], query: str, *, stamp: int | None = None, body: str = "") -> str:
    q = "&".join(p for p in (query, f"timestamp={stamp or int(time.time() * 1000)}") if p)
    return f"{q}&signature={sign(key['secretKey'], q.encode() + body.encode())}"


def test_binances_published_signature_examples() -> None:
    secret = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
    total = ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000"
             "&timestamp=1499827319559")
    assert sign(secret, total.encode()) == "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    sig = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    in_query = signed_params(f"{total}&signature={sig}", b"")
    in_body = signed_params("", f"{total}&signature={sig}".encode(), form_body=True)
    assert in_query.payload == in_body.payload == total.encode()
    assert (in_body.timestamp, in_body.recv_window, in_body.signature) == (1499827319559, 5000, sig)
    # Mixed: the query string, then the body, concatenated without '&' (Binance's third example).
    mixed = signed_params("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC",
                          b"quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559&signature=0" + b"0" * 63,
                          form_body=True)
    assert mixed.payload == b"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForceGTCquantity=1".replace(
        b"timeInForceGTC", b"timeInForce=GTC") + b"&price=0.1&recvWindow=5000&timestamp=1499827319559"


async def test_every_error_as_binance_returns_it(client: Any) -> None:
    token, _ = await register(client)
    key = await new_api_key(client, token, ["read", "trade"])
    reader = await new_api_key(client, token, ["read"])
    h = {"X-MBX-APIKEY": key["apiKey"]}

    async def call(method: str, path: str, query: str = "", headers: dict[str, str] | None = None,
                   body: str = "") -> tuple[int, dict[str, Any]]:
        sent = dict(headers if headers is not None else h)
        if body:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        resp = await client.request(method, f"{path}?{query}" if query else path, headers=sent, data=body or None)
        return resp.status, await resp.json()

    order = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=1000.00"
    now = int(time.time() * 1000)
    cases: list[tuple[tuple[int, dict[str, Any]], int, int]] = [
        (await call("GET", "/api/v3/account", signed_query(key, ""), headers={}), 401, -2014),
        (await call("GET", "/api/v3/account", signed_query({"secretKey": "s"}, ""),
                    headers={"X-MBX-APIKEY": "n" * 64}), 401, -2015),
        (await call("POST", "/api/v3/order", signed_query(reader, order), headers={"X-MBX-APIKEY": reader["apiKey"]}),
         401, -2015),
        (await call("GET", "/api/v3/account", f"timestamp={now}&signature={'0' * 64}"), 400, -1022),
        (await call("GET", "/api/v3/account", f"timestamp={now}"), 400, -1102),
        (await call("GET", "/api/v3/account", signed_query(key, "", stamp=now - 60_000)), 400, -1021),
        (await call("GET", "/api/v3/account", signed_query(key, "", stamp=now + 5_000)), 400, -1021),
        (await call("GET", "/api/v3/account", signed_query(key, "recvWindow=70000")), 400, -1130),
        (await call("GET", "/api/v3/depth", "symbol=BTCUSDT&symbol=ETHUSDT"), 400, -1101),
        (await call("GET", "/api/v3/depth", "symbol=NOPEUSDT"), 400, -1121),
        (await call("GET", "/api/v3/depth", ""), 400, -1102),
        (await call("GET", "/api/v3/klines", "symbol=BTCUSDT&interval=7m"), 400, -1120),
        (await call("POST", "/api/v3/order", signed_query(key, order.replace("BUY", "UP"))), 400, -1117),
        (await call("POST", "/api/v3/order", signed_query(key, order.replace("LIMIT", "ICEBERG"))), 400, -1116),
        (await call("POST", "/api/v3/order", signed_query(key, order.replace("GTC", "GTX"))), 400, -1115),
        (await call("POST", "/api/v3/order", signed_query(key, order.replace("0.001", "0.00a"))), 400, -1100),
        (await call("POST", "/api/v3/order", signed_query(key, order + "&icebergQty=1")), 400, -1104),
        (await call("POST", "/api/v3/order", signed_query(key, order + "&stopPrice=1")), 400, -1106),
        (await call("POST", "/api/v3/order", signed_query(key, order + "&newClientOrderId=")), 400, -1118),
        (await call("POST", "/api/v3/order", signed_query(key, "symbol=BTCUSDT&side=BUY&type=MARKET")), 400, -1102),
        (await call("POST", "/api/v3/order", signed_query(key, order.replace("1000.00", "1000.001"))), 400, -1013),
        (await call("POST", "/api/v3/order", signed_query(key, order.replace("0.001", "0.000001"))), 400, -1013),
        (await call("POST", "/api/v3/order", signed_query(key, order.replace("0.001", "9000"))), 400, -2010),
        (await call("GET", "/api/v3/order", signed_query(key, "symbol=BTCUSDT&orderId=424242"), ), 400, -2013),
        (await call("DELETE", "/api/v3/order", signed_query(key, "symbol=BTCUSDT&origClientOrderId=nope")), 400,
         -2011),
    ]
    for (status, body), expected_status, code in cases:
        check(status, body, expected_status, code)
    # Parameters in a form body, signed there (as ccxt and python-binance send a POST), work alike.
    resting = order.replace("1000.00", "1000.01").replace("0.001", "0.010")
    form = resting + f"&timestamp={int(time.time() * 1000)}"
    signature = sign(key["secretKey"], form.encode())
    status, placed = await call("POST", "/api/v3/order", body=f"{form}&signature={signature}")
    assert status == 200 and placed["status"] == "NEW", placed
    # A clientOrderId used before is Binance's duplicate.
    again = signed_query(key, resting + f"&newClientOrderId={placed['clientOrderId']}")
    check(*(await call("POST", "/api/v3/order", again)), 400, -2010)
    own = await client.get(f"/api/trading/orders/{placed['orderId']}", headers=auth(token))
    assert (await own.json())["apiKeyId"] == key["id"]


async def test_weights_are_counted_and_429_past_the_limit(client: Any) -> None:
    resp = await client.get("/api/v3/exchangeInfo")
    assert resp.status == 200 and int(resp.headers["X-MBX-USED-WEIGHT-1M"]) >= 20
    client.app[EDGE].meter.limit = int(resp.headers["X-MBX-USED-WEIGHT-1M"]) + 1
    assert (await client.get("/api/v3/ping")).status == 200
    refused = await client.get("/api/v3/ping")
    check(refused.status, await refused.json(), 429, -1003)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


async def test_past_the_wait_a_market_order_answers_1007_and_still_executes_once(client: Any) -> None:
    token, _ = await register(client)
    key = await new_api_key(client, token, ["read", "trade"])
    ws = await open_ws(client, token)
    client.app[EDGE].execution_wait_s = 0.0
    query = signed_query(key, "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&newClientOrderId=x-bot-1007")
    resp = await client.post(f"/api/v3/order?{query}", headers={"X-MBX-APIKEY": key["apiKey"]})
    body = await resp.json()
    if resp.status == 200:  # the Executor was quicker than one database read: nothing to prove this time
        assert body["status"] == "FILLED"
    else:
        check(resp.status, body, 408, -1007)
    await ws.wait_for(lambda m: m.get("type") == "ORDER_UPDATE" and m["clientOrderId"] == "x-bot-1007"
                      and m["status"] == "FILLED")
    await ws.close()
    found = await client.get(f"/api/v3/order?{signed_query(key, 'symbol=BTCUSDT&origClientOrderId=x-bot-1007')}",
                             headers={"X-MBX-APIKEY": key["apiKey"]})
    order = await found.json()
    assert order["status"] == "FILLED" and order["executedQty"] == "0.001"
    orders = await (await client.get("/api/trading/orders", headers=auth(token))).json()
    assert [o["clientOrderId"] for o in orders["orders"]] == ["x-bot-1007"]


async def test_orders_past_the_users_budget_are_binances_1015(make_client: Any) -> None:
    client = await make_client(order_rate_per_s=1)
    token, _ = await register(client)
    key = await new_api_key(client, token, ["read", "trade"])
    order = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=5000.00"
    answers = []
    for _ in range(4):  # a burst of twice the rate passes, then the budget is spent
        resp = await client.post(f"/api/v3/order?{signed_query(key, order)}", headers={"X-MBX-APIKEY": key["apiKey"]})
        answers.append((resp.status, await resp.json(), resp.headers.get("Retry-After")))
    status, body, retry_after = answers[-1]
    check(status, body, 429, -1015)
    assert retry_after is not None and int(retry_after) >= 1
