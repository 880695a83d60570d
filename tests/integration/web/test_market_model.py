"""One market model through a real in-process Troupe: the book fills consume (across shards), the
tape of anonymised prints that the candles add up, maker and taker fees, and their API and frames."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import redis

from app.domain import book
from app.domain.book import Level
from app.domain.candles import INTERVALS
from app.domain.orders import Side
from tests.support.helpers import WsClient, auth, open_ws, register
from tests.support.scripted_market import Market
from web.app_keys import RUNTIME

D = Decimal
MakeClient = Callable[..., Awaitable[Any]]
STILL = {"tick_interval_ms": 10_000, "book_refill_ms": 10**12}  # the walk and the refill hold still


def levels(rows: list[list[str]]) -> tuple[Level, ...]:
    return tuple(Level(D(p), D(q)) for p, q in rows)


async def trader(client: Any, parity: int | None = None) -> tuple[str, WsClient]:
    """A new user (on the shard `parity` names, with two shards) with a socket on BTCUSDT's book and tape."""
    while True:
        token, user = await register(client)
        if parity is None or user["id"] % 2 == parity:
            break
    ws = await open_ws(client, token)
    await ws.send({"type": "subscribe", "symbols": ["BTCUSDT"], "channels": ["book", "trades"]})
    await ws.wait_for(lambda m: m["type"] == "SUBSCRIPTIONS")
    return token, ws


async def sell(client: Any, token: str, ws: WsClient, qty: str) -> list[dict[str, Any]]:
    resp = await client.post("/api/trading/orders", headers=auth(token),
                             json={"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": qty})
    assert resp.status == 202, await resp.text()
    filled = await ws.order_status((await resp.json())["orderId"], {"FILLED"})
    return list(filled["fills"])


async def depth(client: Any, limit: int = 25) -> dict[str, Any]:
    resp = await client.get(f"/api/market/depth?symbol=BTCUSDT&limit={limit}")
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


def book_after(ws: WsClient, update_id: int) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m["type"] == "BOOK_UPDATE" and m["symbol"] == "BTCUSDT" and m["u"] > update_id


async def test_depth_is_the_published_book_best_first_in_plain_decimals(make_client: MakeClient) -> None:
    client = await make_client(**STILL)
    body = await depth(client, limit=5)
    assert set(body) == {"symbol", "lastUpdateId", "bids", "asks"} and isinstance(body["lastUpdateId"], int)
    bids, asks = levels(body["bids"]), levels(body["asks"])
    assert len(bids) == len(asks) == 5 and bids[0].price < asks[0].price
    assert [lv.price for lv in bids] == sorted((lv.price for lv in bids), reverse=True)
    assert [lv.price for lv in asks] == sorted(lv.price for lv in asks)
    assert all("e" not in v.lower() for row in body["bids"] + body["asks"] for v in row)
    ticker = await (await client.get("/api/market/ticker?symbol=BTCUSDT")).json()
    assert (D(ticker["bid"]), D(ticker["ask"])) == (bids[0].price, asks[0].price), "the tick's touch is the book's"
    for query, field in (("symbol=NOPE", "symbol"), ("symbol=BTCUSDT&limit=0", "limit"),
                         ("symbol=BTCUSDT&limit=26", "limit"), ("symbol=BTCUSDT&limit=x", "limit")):
        for path in ("depth", "trades"):
            if path == "trades" and query.endswith("26"):
                continue
            resp = await client.get(f"/api/market/{path}?{query}")
            assert resp.status == 400 and (await resp.json())["field"] == field, (path, query)


async def test_fills_consume_one_book_across_shards_and_print_on_the_tape(make_client: MakeClient) -> None:
    client = await make_client(**STILL)
    token_a, ws_a = await trader(client, parity=0)
    token_b, ws_b = await trader(client, parity=1)
    before = await depth(client)
    bids = levels(before["bids"])
    assert bids[0].qty == D("0.4") and bids[1].qty == D("0.6")

    # Two orders in a row on one shard: the second starts where the first stopped.
    first = await sell(client, token_a, ws_a, "0.5")
    assert [(D(f["price"]), D(f["qty"])) for f in first] == [(bids[0].price, D("0.4")), (bids[1].price, D("0.1"))]
    second = await sell(client, token_a, ws_a, "0.2")
    assert [(D(f["price"]), D(f["qty"])) for f in second] == [(bids[1].price, D("0.2"))], "deeper than the first"

    # The book took both in: another shard sees the same, consumed book.
    expected, _ = book.take(bids, Side.SELL, bids[1].price, D("0.7"))
    update = await ws_b.wait_for(lambda m: book_after(ws_b, before["lastUpdateId"])(m)
                                 and levels(m["bids"])[0] == expected[0])
    assert levels(update["bids"]) == expected[:20]
    assert levels((await depth(client))["bids"]) == expected
    third = await sell(client, token_b, ws_b, "0.3")
    assert [(D(f["price"]), D(f["qty"])) for f in third] == [(bids[1].price, D("0.3"))]

    # Each fill is a print, anonymised: the taker sold, so the buyer was the maker.
    fills = [(D(f["price"]), D(f["qty"])) for f in first + second + third]
    printed: list[dict[str, Any]] = []

    def tape_has_all(m: dict[str, Any]) -> bool:
        if m["type"] == "TRADE" and m["symbol"] == "BTCUSDT":
            printed.extend(p for p in m["trades"] if (D(p["price"]), D(p["qty"])) in fills)
        return len(printed) >= len(fills)
    await ws_b.wait_for(tape_has_all)
    assert all(set(p) == {"id", "price", "qty", "quoteQty", "time", "isBuyerMaker"} and p["isBuyerMaker"]
               for p in printed)
    tape = (await (await client.get("/api/market/trades?symbol=BTCUSDT&limit=1000")).json())["trades"]
    assert [p["id"] for p in tape] == sorted(p["id"] for p in tape) and [p["time"] for p in tape] == sorted(
        p["time"] for p in tape)
    assert [(D(p["price"]), D(p["qty"])) for p in tape if p["isBuyerMaker"] and (D(p["price"]), D(p["qty"]))
            in fills][-3:] == fills[-3:]

    # The candles are the sum of their prints (every current candle began after this app started).
    for interval, ms in INTERVALS.items():
        candle = (await (await client.get(f"/api/market/candles?symbol=BTCUSDT&interval={interval}&limit=1"))
                  .json())["candles"][-1]
        volume = sum((D(p["qty"]) for p in tape if candle["t"] <= p["time"] < candle["t"] + ms), D(0))
        assert D(candle["v"]) == volume, interval


async def test_book_frames_number_every_change_and_channels_are_opt_in(make_client: MakeClient) -> None:
    client = await make_client(tick_interval_ms=50)
    token, ws = await trader(client)
    snapshot = await ws.wait_for(lambda m: m["type"] == "BOOK_UPDATE")
    assert snapshot["U"] == snapshot["u"], "the state on subscribing"
    frames = []
    while len(frames) < 5:
        frames.append(await ws.wait_for(book_after(ws, frames[-1]["u"] if frames else snapshot["u"])))
    for a, b in itertools.pairwise(frames):
        assert b["U"] == a["u"] + 1 and b["u"] >= b["U"], "contiguous, increasing update ids"
    assert all(len(f["bids"]) == len(f["asks"]) == 20 for f in frames)
    plain = await open_ws(client, token)
    await plain.send({"type": "subscribe", "symbols": ["BTCUSDT"]})
    await plain.wait_for(lambda m: m["type"] == "SUBSCRIPTIONS")
    await plain.wait_for(lambda m: m["type"] == "PRICE_UPDATE")
    await plain.wait_for(lambda m: m["type"] == "CANDLE_UPDATE")
    assert not [m for m in plain.seen if m["type"] in ("BOOK_UPDATE", "TRADE")], "no book or tape unless asked"
    await plain.send({"type": "subscribe", "symbols": ["BTCUSDT"], "channels": ["depth"]})
    error = await plain.wait_for(lambda m: m["type"] == "ERROR")
    assert "channels" in error["detail"]
    await ws.send({"type": "unsubscribe", "symbols": ["BTCUSDT"]})
    await ws.wait_for(lambda m: m["type"] == "SUBSCRIPTIONS" and m["symbols"] == [])


async def test_a_resting_order_pays_maker_and_a_taker_pays_taker(make_client: MakeClient) -> None:
    client = await make_client(fee_maker_rate=D("0.0002"), fee_taker_rate=D("0.001"))
    token, ws = await trader(client)
    market = Market(client)
    market.tick("65000")
    resp = await client.post("/api/trading/orders", headers=auth(token), json={
        "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01"})
    taker = await ws.order_status((await resp.json())["orderId"], {"FILLED"})
    assert [D(f["commission"]) for f in taker["fills"]] == [D("0.00001")]  # 0.01 BTC × 0.001
    resp = await client.post("/api/trading/orders", headers=auth(token), json={
        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
        "price": "64000"})
    order_id = (await resp.json())["orderId"]
    await ws.order_status(order_id, {"NEW"})
    market.tick("63900")
    maker = await ws.order_status(order_id, {"FILLED"})
    assert [(D(f["price"]), D(f["commission"])) for f in maker["fills"]] == [(D("64000"), D("0.000002"))]


async def test_a_fill_announced_twice_is_folded_once(make_client: MakeClient) -> None:
    """The outbox relay may publish an event batch again (a crash after publishing, before deleting the row):
    the book and the tape take each fill in once."""
    client = await make_client(**STILL)
    token, ws = await trader(client)
    bids = levels((await depth(client))["bids"])
    first = await sell(client, token, ws, "0.1")
    runtime = client.server.app[RUNTIME]
    r = redis.Redis.from_url(runtime.redis_url)
    try:
        entries = r.xrange(runtime.names.events)
        announced = [fields for _, fields in entries if b'"fills":[{' in fields[b"m"]]
        assert announced, "the fill's event batch is on topic:events"
        r.xadd(runtime.names.events, announced[-1])  # the relay's duplicate
    finally:
        r.close()
    barrier = await sell(client, token, ws, "0.05")  # the feed reads in order: the duplicate comes before it
    assert [D(f["price"]) for f in first + barrier] == [bids[0].price, bids[0].price]
    printed = await ws.wait_for(lambda m: m["type"] == "TRADE" and any(p["qty"] == "0.05" for p in m["trades"]))
    after = ws.seen.index(printed)
    update = await ws.wait_for(lambda m: m["type"] == "BOOK_UPDATE" and ws.seen.index(m) > after)
    assert levels(update["bids"])[0] == Level(bids[0].price, D("0.25")), "0.4 less 0.1 and 0.05, once each"
    tape = (await (await client.get("/api/market/trades?symbol=BTCUSDT&limit=1000")).json())["trades"]
    assert [p["qty"] for p in tape if D(p["price"]) == bids[0].price] == ["0.1", "0.05"]
