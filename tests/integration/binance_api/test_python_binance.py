"""python-binance's `Client` and `AsyncClient`, unchanged but for `API_URL`, against a real Troupe
server; their numbers are checked against Troupe's own API."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from binance import AsyncClient, Client
from binance.exceptions import BinanceAPIException

from tests.support.binance_clients import Account, serve

pytestmark = pytest.mark.crash  # a server process of its own


@pytest.fixture(scope="module")
def troupe(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve(tmp_path_factory, "pybinance")


def test_client_trades_and_reads_like_troupes_api(troupe: str) -> None:
    account = Account(troupe)
    client = Client(account.key["apiKey"], account.key["secretKey"], ping=False)
    client.API_URL = f"{troupe}/api"
    assert client.get_server_time()["serverTime"] > 0
    info = client.get_symbol_info("BTCUSDT")
    assert info is not None and info["status"] == "TRADING"
    order = client.order_market_buy(symbol="BTCUSDT", quantity="0.001")
    own = account.get(f"/api/trading/orders/{order['orderId']}")
    assert order["status"] == own["status"] == "FILLED"
    assert order["executedQty"] == own["executedQty"] and order["cummulativeQuoteQty"] == own["cummulativeQuoteQty"]
    assert client.get_order(symbol="BTCUSDT", origClientOrderId=order["clientOrderId"])["orderId"] == order["orderId"]
    balances = {b["asset"]: b for b in client.get_account()["balances"]}
    for row in account.get("/api/trading/balances")["balances"]:
        assert balances[row["asset"]] == row
    trades = client.get_my_trades(symbol="BTCUSDT")
    assert [(t["price"], t["qty"]) for t in trades] == [(f["price"], f["qty"]) for f in own["fills"]]
    price = (Decimal(account.get("/api/market/ticker?symbol=BTCUSDT")["bid"]) / 2).quantize(Decimal("0.01"))
    limit = client.order_limit_buy(symbol="BTCUSDT", quantity="0.001", price=str(price))
    assert [o["orderId"] for o in client.get_open_orders(symbol="BTCUSDT")] == [limit["orderId"]]
    assert client.cancel_order(symbol="BTCUSDT", orderId=limit["orderId"])["status"] == "CANCELED"
    assert len(client.get_klines(symbol="BTCUSDT", interval="1m", limit=3)) <= 3
    assert client.get_order_book(symbol="BTCUSDT", limit=5)["bids"]
    assert client.get_ticker(symbol="BTCUSDT")["lastPrice"]
    with pytest.raises(BinanceAPIException) as refused:
        client.order_market_buy(symbol="BTCUSDT", quantity="8000")
    assert (refused.value.code, refused.value.message) == (-2010, "Account has insufficient balance for "
                                                                  "requested action.")


async def test_async_client_places_and_finds_orders(troupe: str) -> None:
    account = Account(troupe)
    client = AsyncClient(account.key["apiKey"], account.key["secretKey"])
    client.API_URL = f"{troupe}/api"
    try:
        order = await client.order_market_sell(symbol="ETHUSDT", quantity="0.0100")
        own = account.get(f"/api/trading/orders/{order['orderId']}")
        assert order["status"] == own["status"] == "FILLED" and order["executedQty"] == own["executedQty"]
        found = await client.get_order(symbol="ETHUSDT", orderId=order["orderId"])
        assert found["cummulativeQuoteQty"] == own["cummulativeQuoteQty"]
        assert [o["orderId"] for o in await client.get_all_orders(symbol="ETHUSDT")] == [order["orderId"]]
        with pytest.raises(BinanceAPIException) as refused:
            await client.get_order(symbol="ETHUSDT", orderId=999999999)
        assert (refused.value.code, refused.value.message) == (-2013, "Order does not exist.")
    finally:
        await client.close_connection()
