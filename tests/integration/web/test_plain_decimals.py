"""Every amount on every interface is plain decimal text, made by one formatter (app.money.to_str).

A scripted session per venue (the simulator, and EXCHANGE=binance against the strict fake) records
every REST body and every WebSocket frame, then walks each JSON value: a string that looks like a
number, and every scalar under an amount key, must read `^-?(0|[1-9][0-9]*)(\\.[0-9]*[1-9])?$` (no
exponent, no trailing zeros); a number inside a sentence (`detail`, `rejectReason`) likewise; and a
JSON number may appear only under the integer keys listed below (ids, times, versions, counts),
never as an amount. The fake answers with Binance's padded strings ("10.00000000", "0.00000000"),
which `normalize()` turns into "1E+1" and "0". The pages print their amounts through the same
formatter (the `dec` filter), so they must agree with the API.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from app.domain.candles import INTERVALS
from app.money import to_str
from tests.integration.web.test_stop_orders import Market
from tests.support.fakes.binance import FakeBinance
from tests.support.helpers import PASSWORD, WsClient, auth, open_ws, sign_in_page
from tests.support.venues import Venue, balance_event, open_venue

PLAIN = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?")
LOOKS_NUMERIC = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?(inf|infinity|s?nan)", re.I)
# A number standing alone: not part of a word, a hyphen-joined token ("…-9e28-…") or a masked key ("••••9e28").
NUMBER_IN_TEXT = re.compile(r"(?<![\w.•])(?<!\w-)-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?(?!\w|\.[0-9]|-\w)")
AMOUNT_WORDS = ("price", "qty", "quantity", "amount", "free", "locked", "balance", "pnl", "fee", "margin",
                "commission", "notional", "payout", "equity", "leverage", "bid", "ask", "volume", "size",
                "open24h", "high24h", "low24h", "change")
CANDLE_KEYS = {"o", "h", "l", "c", "v"}
# JSON numbers are fine here and nowhere else: identifiers, times, versions, counts, basis points.
INTEGER_KEYS = {"id", "orderId", "orderListId", "seq", "version", "time", "updateTime", "ts", "t", "openedAt",
                "closedAt", "createdAt", "since", "expiresIn", "nextCursor", "trailingDelta", "status",
                "expiresAt", "sessionExpiresAt", "lastSeenAt", "revoked", "revokedSessions"}
# Strings that may consist of digits without being amounts.
OPAQUE_KEYS = {"apiKeyLast4", "clientOrderId", "listClientOrderId", "ticket", "token", "email", "cmdId"}
SENTENCE_KEYS = {"detail", "rejectReason", "reason"}
PAGE_AMOUNTS = {"tick-size": "tickSize", "step-size": "stepSize", "min-qty": "minQty", "min-notional": "minNotional"}
# Binance pads every amount to 8 decimals: normalize() made "1E+4", "1E+1" and "0" of these.
BINANCE_WALLET = {"USDT": "10000", "BTC": "1", "BNB": "10"}


def _is_amount_key(key: str | None) -> bool:
    if key is None:
        return False
    lower = key.lower()
    return key in CANDLE_KEYS or (not lower.endswith("asset") and any(w in lower for w in AMOUNT_WORDS))


def violations(value: Any, key: str | None = None, path: str = "$") -> Iterator[str]:
    """Every place in a JSON document where an amount is not plain decimal text."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from violations(v, k, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from violations(v, key, f"{path}[{i}]")
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, float):
        yield f"{path} = {value!r}: a JSON float"
    elif isinstance(value, int):
        if key not in INTEGER_KEYS:
            yield f"{path} = {value!r}: a JSON number where an amount (a string) belongs"
    elif isinstance(value, str):
        if key in OPAQUE_KEYS:
            return
        if (_is_amount_key(key) or LOOKS_NUMERIC.fullmatch(value)) and not PLAIN.fullmatch(value):
            yield f"{path} = {value!r}: not plain decimal text"
        if key in SENTENCE_KEYS:
            for m in NUMBER_IN_TEXT.finditer(value):
                if not PLAIN.fullmatch(m.group(0)):
                    yield f"{path} = {value!r}: {m.group(0)!r} is not plain decimal text"


def test_the_walker_catches_exponents_trailing_zeros_and_json_numbers() -> None:
    bad = {"balances": [{"asset": "BNB", "free": "1E+1", "locked": "0.00000000"}], "price": 1.5,
           "candle": {"t": 1, "v": 3}, "position": {"id": 7, "margin": "10.0"}, "x": "2e5",
           "detail": "needs 1E+1 USDT, 3 available.", "commissionAsset": "BNB", "clientOrderId": "007"}
    found = list(violations(bad))
    assert [f.split(" ")[0] for f in found] == ["$.balances[0].free", "$.balances[0].locked", "$.price",
                                                "$.candle.v", "$.position.margin", "$.x", "$.detail"]
    good = {"balances": [{"asset": "BNB", "free": "10", "locked": "0"}], "price": "-0.5", "stopPrice": None,
            "orderId": 12, "detail": "needs 10.5 USDT, 3 available.", "triggered": False, "symbol": "BTCUSDT"}
    assert list(violations(good)) == []


@dataclass
class Session:
    """One trader's REST calls and WebSocket frames, all recorded for the walk."""

    venue: Venue
    token: str
    ws: WsClient
    bodies: list[tuple[str, Any]] = field(default_factory=list)
    sockets: list[WsClient] = field(default_factory=list)

    async def call(self, method: str, path: str, body: Any = None, expect: tuple[int, ...] = (200,)) -> Any:
        resp = await self.venue.client.request(method, path, json=body, headers=auth(self.token))
        data = await resp.json()
        assert resp.status in expect, (method, path, resp.status, data)
        self.bodies.append((f"{method} {path} -> {resp.status}", data))
        return data

    async def order(self, expect: str, **order: str) -> dict[str, Any]:
        """Place an order and wait until it reaches status `expect`."""
        placed = await self.call("POST", "/api/trading/orders", {"symbol": "BTCUSDT", **order}, (202,))
        return await self.ws.order_status(placed["orderId"], {expect})

    async def cancel(self, order_id: int, *others: int) -> None:
        await self.call("DELETE", f"/api/trading/orders/{order_id}", expect=(202,))
        for oid in (order_id, *others):
            await self.ws.order_status(oid, {"CANCELED"}, timeout=15)

    def frames(self) -> list[tuple[str, Any]]:
        return [(f"ws#{i} {m.get('type')}", m) for i, s in enumerate(self.sockets) for m in s.seen]


@pytest.fixture(params=["simulator", "binance"])
async def venue(request: pytest.FixtureRequest, aiohttp_client: Any, tmp_path: Path, sqlite_url: str,
                redis_url: str) -> AsyncIterator[Venue]:
    async for v in open_venue(request.param, aiohttp_client, tmp_path, sqlite_url, redis_url):
        yield v


async def _spot_orders(s: Session, fake: FakeBinance | None) -> None:
    """Market, limit, stop and OCO orders, filled or canceled; a stop-limit stays open."""
    await s.order("FILLED", side="BUY", type="MARKET", quantity="0.01")
    await s.order("FILLED", side="BUY", type="MARKET", quoteOrderQty="12.5")
    await s.call("POST", "/api/trading/orders", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                 "timeInForce": "GTC", "quantity": "0.01", "price": "50000.001"},
                 (422,))
    resting = await s.order("NEW", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.01",
                            price="49000")
    if fake is not None:  # Binance: a trade through the book fills part of it
        fake.trade("BTCUSDT", Decimal("48999"), qty=Decimal("0.004"))
        await s.ws.order_status(resting["orderId"], {"PARTIALLY_FILLED"})
    await s.cancel(resting["orderId"])
    await s.order("NEW", side="SELL", type="STOP_LOSS_LIMIT", timeInForce="GTC", quantity="0.1",
                            stopPrice="1000", price="990")
    oco = await s.call("POST", "/api/trading/orderList/oco", {
        "symbol": "BTCUSDT", "side": "SELL", "quantity": "0.1", "price": "900000", "stopPrice": "1000"}, (202,))
    tp, sl = (o["orderId"] for o in oco["orders"])
    await s.ws.order_status(tp, {"NEW"})
    await s.ws.order_status(sl, {"NEW"})
    await s.cancel(sl, tp)


async def _simulated_stop_and_desk(s: Session, market: Market) -> None:
    """A stop that triggers, and a CFD position opened, amended and closed (the simulator's desk)."""
    stop = await s.order("NEW", side="SELL", type="STOP_LOSS", quantity="0.01", stopPrice="49000")
    market.tick("48990")
    await s.ws.order_status(stop["orderId"], {"FILLED"})
    market.tick("50000")
    await s.call("POST", "/api/cfd/transfer", {"direction": "TO_MARGIN", "amount": "100"})
    opened = await s.call("POST", "/api/cfd/positions", {"symbol": "BTCUSDT", "direction": "LONG", "margin": "10",
                                                         "leverage": "10"}, (201,))
    pid = opened["position"]["id"]
    await s.ws.wait_for(lambda m: m.get("type") == "CFD_UPDATE" and m.get("event") == "OPENED")
    market.tick("50100")
    await s.ws.wait_for(lambda m: m.get("type") == "CFD_UPDATE" and m.get("event") == "PNL")
    await s.call("PATCH", f"/api/cfd/positions/{pid}", {"stopLossPrice": "47000", "takeProfitPrice": "60000"})
    await s.call("GET", f"/api/cfd/positions/{pid}")
    await s.call("DELETE", f"/api/cfd/positions/{pid}")
    await s.ws.wait_for(lambda m: m.get("type") == "CFD_UPDATE" and m.get("event") == "CLOSED")
    await s.call("GET", f"/api/cfd/positions/{pid}")
    await s.call("POST", "/api/cfd/positions", {"symbol": "BTCUSDT", "direction": "SHORT", "margin": "5",
                                                "leverage": "2"}, (201,))  # stays open: snapshot and lists
    await s.call("POST", "/api/cfd/transfer", {"direction": "TO_SPOT", "amount": "100000"}, (409,))
    # Leave 0.0000001 USDT of margin (its str() is "1E-7"), then retry that transfer as after a lost answer.
    balance = Decimal((await s.call("GET", "/api/cfd/account"))["balance"])
    dust = {"direction": "TO_SPOT", "amount": to_str(balance - Decimal("0.0000001")), "clientRequestId": "dust"}
    await s.call("POST", "/api/cfd/transfer", dust)
    await s.call("POST", "/api/cfd/transfer", dust)


async def _read_everything(s: Session) -> None:
    """Every GET endpoint of the API, as this trader sees it."""
    for path in ("/auth/me", "/api/trading/orders", "/api/trading/orders?status=OPEN",
                 "/api/trading/orders?symbol=BTCUSDT&limit=2", "/api/trading/balances", "/api/trading/positions",
                 "/api/market/symbols", "/api/market/ticker", "/api/market/ticker?symbol=BTCUSDT",
                 "/api/cfd/positions?status=open", "/api/cfd/positions?status=closed", "/api/cfd/account",
                 "/api/account/exchange-key", "/healthz", "/readyz"):
        await s.call("GET", path)
    for order in (await s.call("GET", "/api/trading/orders?limit=500"))["orders"]:
        await s.call("GET", f"/api/trading/orders/{order['orderId']}")
    for interval in INTERVALS:
        await s.call("GET", f"/api/market/candles?symbol=BTCUSDT&interval={interval}&limit=50")
    me = (await s.call("GET", "/auth/me"))["user"]
    await s.call("POST", "/auth/login", {"email": me["email"], "password": PASSWORD})
    await s.call("POST", "/api/ws-ticket")


async def _drain(ws: WsClient) -> None:
    """Read every frame the server queued before now: the answer to a ping comes after them."""
    ws.seen[:] = [m for m in ws.seen if m.get("type") != "pong"]
    await ws.send({"type": "ping"})
    await ws.wait_for(lambda m: m.get("type") == "pong")


async def _subscribe(ws: WsClient) -> None:
    await ws.send({"type": "subscribe", "symbols": ["BTCUSDT"], "interval": "1m", "cfdPnlMs": 0})
    await ws.wait_for(lambda m: m.get("type") == "SUBSCRIPTIONS")
    await ws.wait_for(lambda m: m.get("type") == "PRICE_UPDATE")
    await ws.wait_for(lambda m: m.get("type") == "CANDLE_UPDATE")


async def test_every_amount_on_every_interface_is_plain_decimal_text(venue: Venue) -> None:
    token, ws, _ = await venue.trader(wallet=BINANCE_WALLET)  # the simulator's wallet is STARTING_WALLET
    s = Session(venue, token, ws, sockets=[ws])
    market: Market | None = None
    if venue.fake is None:
        market = Market(venue.client)
        market.tick("50000")
    await _subscribe(ws)
    await _spot_orders(s, venue.fake)
    if market is not None:
        await _simulated_stop_and_desk(s, market)
    else:  # the account's "10.00000000" BNB arrived, the value normalize() wrote as "1E+1"
        await ws.wait_for(balance_event("BNB", lambda free, locked: free == 10 and locked == 0))
    await _read_everything(s)
    again = await open_ws(venue.client, token)  # a reconnect: the SNAPSHOT with open orders and positions
    s.sockets.append(again)
    await _subscribe(again)
    for socket in s.sockets:
        await _drain(socket)

    found = [f"{where}: {v}" for where, doc in s.bodies + s.frames() for v in violations(doc)]
    assert not found, "\n".join(found[:40])
    kinds = {m["type"] for _, m in s.frames()}
    assert {"SNAPSHOT", "PRICE_UPDATE", "CANDLE_UPDATE", "ORDER_UPDATE", "BALANCE_UPDATE",
            "POSITION_UPDATE"} <= kinds
    assert venue.fake is not None or "CFD_UPDATE" in kinds
    snapshot = next(m for m in again.seen if m["type"] == "SNAPSHOT")
    assert snapshot["openOrders"] and snapshot["balances"]
    await _pages_agree_with_the_api(s)


async def _pages_agree_with_the_api(s: Session) -> None:
    """The terminal prints the symbol's filters with the `dec` filter: the API's very text."""
    client = s.venue.client
    me = (await s.call("GET", "/auth/me"))["user"]
    await sign_in_page(client, me["email"])
    symbols = {x["symbol"]: x for x in (await s.call("GET", "/api/market/symbols"))["symbols"]}
    filters = {k: v for f in symbols["BTCUSDT"]["filters"] for k, v in f.items() if k != "filterType"}
    page = await client.get("/trade/BTCUSDT")
    assert page.status == 200
    html = await page.text()
    printed = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', html))
    for attr, key in PAGE_AMOUNTS.items():
        assert printed[attr] == filters[key], (attr, printed[attr], filters[key])
    for attr in ("mmr", "fee"):
        assert PLAIN.fullmatch(printed[attr]), (attr, printed[attr])
    account = await client.get("/account")
    assert account.status == 200
    for text in (html, await account.text()):
        shown = re.sub(r"<[^>]*>", " ", text)  # what the page prints, outside tags and attributes
        bad = [m.group(0) for m in NUMBER_IN_TEXT.finditer(shown) if not PLAIN.fullmatch(m.group(0))]
        assert not bad, bad
