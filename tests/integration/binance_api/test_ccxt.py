"""ccxt's binance client, unchanged but for its URLs, against a real Troupe server: every number it
reads is checked against Troupe's own API (same ids, fills, balances, exact decimals)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import ccxt
import pytest

from tests.support.binance_clients import Account, serve

pytestmark = pytest.mark.crash  # a server process of its own


@pytest.fixture(scope="module")
def troupe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve(tmp_path_factory, "ccxt")


def test_ccxt_trades_on_troupe_and_every_number_matches_troupes_api(troupe: str) -> None:
    account = Account(troupe)
    ex = account.exchange()
    markets = ex.load_markets()
    assert "BTC/USDT" in markets and markets["BTC/USDT"]["spot"]
    assert markets["BTC/USDT"]["precision"]["amount"] == 0.00001
    own_balances = {b["asset"]: b for b in account.get("/api/trading/balances")["balances"]}
    balance = ex.fetch_balance()
    for asset, row in own_balances.items():
        assert Decimal(str(balance[asset]["free"])) == Decimal(row["free"])
        assert balance["info"]["balances"] == [{"asset": b["asset"], "free": b["free"], "locked": b["locked"]}
                                               for b in account.get("/api/trading/balances")["balances"]]

    bought = ex.create_order("BTC/USDT", "market", "buy", 0.001)
    assert bought["status"] == "closed" and bought["filled"] == 0.001
    own = account.get(f"/api/trading/orders/{bought['id']}")
    assert own["status"] == "FILLED" and own["clientOrderId"] == bought["clientOrderId"]
    assert bought["info"]["executedQty"] == own["executedQty"]
    assert bought["info"]["cummulativeQuoteQty"] == own["cummulativeQuoteQty"]
    assert [(f["price"], f["qty"], f["commission"]) for f in bought["info"]["fills"]] == \
        [(f["price"], f["qty"], f["commission"]) for f in own["fills"]]
    assert own["apiKeyId"] == account.key["id"]  # the terminal shows which key placed it

    fetched = ex.fetch_order(bought["id"], "BTC/USDT")
    assert fetched["id"] == bought["id"] and fetched["status"] == "closed"
    by_client_id = ex.fetch_order(None, "BTC/USDT", {"origClientOrderId": bought["clientOrderId"]})
    assert by_client_id["id"] == bought["id"]

    trades = ex.fetch_my_trades("BTC/USDT")
    assert [t["info"]["qty"] for t in trades] == [f["qty"] for f in own["fills"]]
    assert {t["order"] for t in trades} == {bought["id"]}

    price = Decimal(account.get("/api/market/ticker?symbol=BTCUSDT")["bid"]) * Decimal("0.5")
    limit_price = float(price.quantize(Decimal("0.01")))
    resting = [ex.create_order("BTC/USDT", "limit", "buy", 0.001, limit_price) for _ in range(3)]
    assert all(o["status"] == "open" for o in resting)
    open_ids = {o["id"] for o in ex.fetch_open_orders("BTC/USDT")}
    own_open = {str(o["orderId"]) for o in account.get("/api/trading/orders?status=OPEN")["orders"]}
    assert open_ids == own_open == {o["id"] for o in resting}
    canceled = ex.cancel_order(resting[0]["id"], "BTC/USDT")
    assert canceled["status"] == "canceled"
    assert account.get(f"/api/trading/orders/{resting[0]['id']}")["status"] == "CANCELED"
    ex.cancel_all_orders("BTC/USDT")
    assert ex.fetch_open_orders("BTC/USDT") == []
    assert all(account.get(f"/api/trading/orders/{o['id']}")["status"] == "CANCELED" for o in resting)

    after = ex.fetch_balance()
    for row in account.get("/api/trading/balances")["balances"]:
        assert Decimal(str(after[row["asset"]]["total"])) == Decimal(row["free"]) + Decimal(row["locked"])


def test_ccxt_reads_market_data_as_troupe_serves_it(troupe: str) -> None:
    account = Account(troupe)
    ex = account.exchange()
    ex.load_markets()
    candles = ex.fetch_ohlcv("ETH/USDT", "1m", limit=5)
    own = account.get("/api/market/candles?symbol=ETHUSDT&interval=1m&limit=5")["candles"]
    assert [c[0] for c in candles] == [c["t"] for c in own][-len(candles):]
    assert [Decimal(str(c[4])) for c in candles[:-1]] == [Decimal(c["c"]) for c in own][-len(candles):-1]
    book = ex.fetch_order_book("ETH/USDT", limit=5)
    assert len(book["bids"]) == 5 and book["bids"][0][0] < book["asks"][0][0]
    same_book = _one_book(account, ex)  # the one market model: the book fills consume, seen through both APIs
    assert same_book["bids"] and same_book["asks"]
    bought = ex.create_order("ETH/USDT", "market", "buy", 0.01)  # the fill lands on the public tape, anonymised
    prints = ex.fetch_trades("ETH/USDT", limit=1000)  # ccxt reads /api/v3/aggTrades: one print an aggregate
    own_tape = {t["id"]: t for t in account.get("/api/market/trades?symbol=ETHUSDT&limit=1000")["trades"]}
    shared = [p["info"] for p in prints if int(p["id"]) in own_tape]
    assert shared and all((a["p"], a["q"], a["T"]) == (own_tape[a["a"]]["price"], own_tape[a["a"]]["qty"],
                                                       own_tape[a["a"]]["time"]) for a in shared)
    fill = bought["info"]["fills"][0]
    deadline = time.monotonic() + 10  # the PriceFeed folds fills into the tape on its next timer
    while not any(p["info"]["p"] == fill["price"] and p["info"]["q"] == fill["qty"] for p in prints):
        assert time.monotonic() < deadline, "the bot's fill never reached the public tape"
        prints = ex.fetch_trades("ETH/USDT", limit=1000)
    ticker = ex.fetch_ticker("ETH/USDT")
    assert ticker["symbol"] == "ETH/USDT" and ticker["last"] > 0
    tickers = ex.fetch_tickers(["ETH/USDT", "BTC/USDT"])
    assert set(tickers) == {"ETH/USDT", "BTC/USDT"}


def test_ccxt_maps_troupes_refusals_to_its_exceptions(troupe: str) -> None:
    ex = Account(troupe).exchange()
    ex.load_markets()
    with pytest.raises(ccxt.InsufficientFunds):
        ex.create_order("BTC/USDT", "market", "buy", 8000)
    with pytest.raises(ccxt.InvalidOrder):
        ex.create_order("BTC/USDT", "limit", "buy", 0.001, 0.001)
    with pytest.raises(ccxt.OrderNotFound):
        ex.fetch_order("999999999", "BTC/USDT")
    with pytest.raises(ccxt.OrderNotFound):
        ex.cancel_order("999999999", "BTC/USDT")
    bad = ccxt.binance({"apiKey": "x" * 64, "secret": "y" * 64})
    bad.urls["api"] = ex.urls["api"]
    bad.markets, bad.markets_by_id, bad.symbols = ex.markets, ex.markets_by_id, ex.symbols
    with pytest.raises(ccxt.AuthenticationError):
        bad.fetch_balance()


def _one_book(account: Account, ex: ccxt.binance) -> dict[str, Any]:
    """/api/v3/depth (through ccxt) and /api/market/depth read at the same update id show the same levels."""
    for _ in range(50):
        theirs = ex.public_get_depth({"symbol": "ETHUSDT", "limit": 20})
        own = account.get("/api/market/depth?symbol=ETHUSDT&limit=20")
        if theirs["lastUpdateId"] == own["lastUpdateId"]:
            assert theirs["bids"] == own["bids"] and theirs["asks"] == own["asks"]
            return own
    raise AssertionError("the book moved between every pair of reads")
