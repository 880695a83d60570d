"""The Binance REST client against the strict local fake (tests/support/fakes/binance.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any, TypeVar

import aiohttp
import httpx
import pytest

from app.exchange.binance import AuthFailed, BinanceClient, RateLimited, Rejected, StatusUnknown, params, sign
from tests.support.fakes.binance import DOC_API_KEY, DOC_SECRET, FakeBinance

T = TypeVar("T")
KEY, SECRET = "k" * 64, "s" * 64
DOC_QUERY = ("symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000"
             "&timestamp=1499827319559")
DOC_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
DOC_QUERY_NON_ASCII = ("symbol=%EF%BC%91%EF%BC%92%EF%BC%93%EF%BC%94%EF%BC%95%EF%BC%96&side=BUY&type=LIMIT"
                       "&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559")
DOC_SIGNATURE_NON_ASCII = "e1353ec6b14d888f1164ae9af8228a3dbd508bc82eb867db8ab6046442f33ef3"


@pytest.fixture
async def fake() -> AsyncIterator[FakeBinance]:
    f = FakeBinance()
    f.add_account(KEY, SECRET, {"USDT": "10000", "BTC": "1"})
    await f.start()
    yield f
    await f.stop()


@pytest.fixture
def client(fake: FakeBinance) -> BinanceClient:
    return BinanceClient(fake.url, KEY, SECRET, httpx.Client(timeout=1.0))


async def off_loop(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """The client is synchronous (it runs on executor threads); the fake serves on this loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def test_signing_matches_binances_published_examples() -> None:
    assert sign(DOC_SECRET, DOC_QUERY) == DOC_SIGNATURE
    assert sign(DOC_SECRET, DOC_QUERY_NON_ASCII) == DOC_SIGNATURE_NON_ASCII


async def test_fake_accepts_the_published_example_and_rejects_a_wrong_signature(fake: FakeBinance) -> None:
    fake.add_account(DOC_API_KEY, DOC_SECRET, {"BTC": "1"})
    fake.fixed_now_ms = 1499827319559 + 100
    async with aiohttp.ClientSession(headers={"X-MBX-APIKEY": DOC_API_KEY}) as http:
        ok = await http.post(f"{fake.url}/v3/order?{DOC_QUERY}&signature={DOC_SIGNATURE}")
        assert ok.status == 200, await ok.text()
        assert (await ok.json())["status"] == "NEW"
        upper = await http.post(f"{fake.url}/v3/order?{DOC_QUERY}&signature={DOC_SIGNATURE.upper()}")
        assert (await upper.json()).get("code") != -1022, "HMAC signatures are not case-sensitive"
        bad = await http.post(f"{fake.url}/v3/order?{DOC_QUERY}&signature={'0' * 64}")
        assert (bad.status, (await bad.json())["code"]) == (400, -1022)
        tampered = await http.post(f"{fake.url}/v3/order?{DOC_QUERY.replace('quantity=1', 'quantity=2')}"
                                   f"&signature={DOC_SIGNATURE}")
        assert (await tampered.json())["code"] == -1022
        fake.fixed_now_ms = 1499827319559 + 6000
        stale = await http.post(f"{fake.url}/v3/order?{DOC_QUERY}&signature={DOC_SIGNATURE}")
        assert (await stale.json())["code"] == -1021
        missing = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&recvWindow=5000&timestamp=1499827325000"
        fake.fixed_now_ms = 1499827325000
        resp = await http.post(f"{fake.url}/v3/order?{missing}&signature={sign(DOC_SECRET, missing)}")
        body = await resp.json()
        assert body["code"] == -1102 and "'price'" in body["msg"]
    assert len(fake.orders) == 2  # the example, and the same with its signature in upper case


async def test_orders_fill_with_exact_decimals(fake: FakeBinance, client: BinanceClient) -> None:
    await off_loop(client.sync_clock)
    placed = await off_loop(client.new_order, "BTCUSDT", "BUY", "MARKET", "cid-1", quantity=Decimal("0.00100000"))
    assert placed["status"] == "FILLED" and Decimal(placed["fills"][0]["price"]) == Decimal("50001")
    _, _, sent = fake.requests[-1]
    assert sent["quantity"] == "0.001" and sent["newClientOrderId"] == "cid-1" and sent["newOrderRespType"] == "FULL"
    assert fake.balance(KEY, "USDT")[0] == Decimal("10000") - Decimal("50.001")
    with pytest.raises(TypeError):
        params(quantity=0.001)  # a float never reaches the wire


async def test_rejections_carry_binances_code_and_reason(fake: FakeBinance, client: BinanceClient) -> None:
    cases = [
        (dict(order_type="MARKET", quantity=Decimal("0.000015")), -1013, "Filter failure: LOT_SIZE"),
        (dict(order_type="LIMIT", quantity=Decimal("1"), price=Decimal("50000.001"), time_in_force="GTC"), -1013,
         "Filter failure: PRICE_FILTER"),
        (dict(order_type="MARKET", quantity=Decimal("5")), -2010,
         "Account has insufficient balance for requested action."),
        (dict(order_type="STOP_LOSS", quantity=Decimal("0.01"), stop_price=Decimal("51000")), -2010,
         "Order would trigger immediately."),
    ]
    for i, (kwargs, code, msg) in enumerate(cases):
        with pytest.raises(Rejected) as err:
            await off_loop(client.new_order, "BTCUSDT", "SELL" if "STOP" in kwargs["order_type"] else "BUY",
                           client_order_id=f"r{i}", **kwargs)
        assert (err.value.code, err.value.message) == (code, msg)
    with pytest.raises(Rejected) as err:
        await off_loop(client.cancel_order, "BTCUSDT", "never-placed")
    assert (err.value.code, err.value.message) == (-2011, "Unknown order sent.")
    with pytest.raises(Rejected) as err:
        await off_loop(client.query_order, "BTCUSDT", "never-placed")
    assert err.value.code == -2013
    assert fake.orders == []


async def test_wrong_keys(fake: FakeBinance) -> None:
    wrong_secret = BinanceClient(fake.url, KEY, "x" * 64, httpx.Client(timeout=1.0))
    with pytest.raises(AuthFailed) as err:
        await off_loop(wrong_secret.account)
    assert err.value.code == -1022
    unknown_key = BinanceClient(fake.url, "u" * 64, SECRET, httpx.Client(timeout=1.0))
    with pytest.raises(AuthFailed) as err:
        await off_loop(unknown_key.account)
    assert err.value.code == -2015
    assert "x" * 64 not in repr(wrong_secret)


async def test_clock_skew_resyncs_and_retries_once(fake: FakeBinance, client: BinanceClient) -> None:
    fake.clock_offset_ms = 30_000  # Binance's clock runs 30 s ahead of ours
    placed = await off_loop(client.new_order, "BTCUSDT", "BUY", "MARKET", "skew", quantity=Decimal("0.001"))
    assert placed["status"] == "FILLED"
    assert abs(client.offset_ms - 30_000) < 1000
    assert len(fake.orders_with("skew")) == 1


@pytest.mark.parametrize("kind", ["5xx", "-1007", "timeout", "drop"])
@pytest.mark.parametrize("executed", [True, False])
async def test_status_unknown_is_never_a_second_order(fake: FakeBinance, client: BinanceClient, kind: str,
                                                      executed: bool) -> None:
    fake.inject("POST", "/api/v3/order", kind, execute=executed)
    with pytest.raises(StatusUnknown):
        await off_loop(client.new_order, "BTCUSDT", "BUY", "MARKET", f"u-{kind}", quantity=Decimal("0.001"))
    if executed:
        found = await off_loop(client.query_order, "BTCUSDT", f"u-{kind}")
        assert found["status"] == "FILLED"
    else:
        with pytest.raises(Rejected) as err:
            await off_loop(client.query_order, "BTCUSDT", f"u-{kind}")
        assert err.value.code == -2013
    assert len(fake.orders_with(f"u-{kind}")) == (1 if executed else 0)


async def test_rate_limit_reports_retry_after(fake: FakeBinance, client: BinanceClient) -> None:
    fake.inject("GET", "/api/v3/account", "429")
    with pytest.raises(RateLimited) as err:
        await off_loop(client.account)
    assert err.value.retry_after == 1 and err.value.http_status == 429
    account = await off_loop(client.account)
    assert {b["asset"] for b in account["balances"]} == {"USDT", "BTC"}


async def test_resting_limit_order_fills_later_and_reports_its_trades(fake: FakeBinance,
                                                                     client: BinanceClient) -> None:
    placed = await off_loop(client.new_order, "BTCUSDT", "BUY", "LIMIT", "rest", quantity=Decimal("0.01"),
                            price=Decimal("49000"), time_in_force="GTC")
    assert placed["status"] == "NEW" and fake.balance(KEY, "USDT")[1] == Decimal("490")
    fake.trade("BTCUSDT", Decimal("48990"), qty=Decimal("0.004"))
    assert (await off_loop(client.query_order, "BTCUSDT", "rest"))["status"] == "PARTIALLY_FILLED"
    fake.trade("BTCUSDT", Decimal("48990"))
    assert (await off_loop(client.query_order, "BTCUSDT", "rest"))["status"] == "FILLED"
    trades = await off_loop(client.my_trades, "BTCUSDT", placed["orderId"])
    assert [Decimal(t["qty"]) for t in trades] == [Decimal("0.004"), Decimal("0.006")]
    assert fake.balance(KEY, "USDT") == (Decimal("9510"), Decimal("0"))
