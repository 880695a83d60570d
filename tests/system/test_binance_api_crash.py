"""SIGKILL while a ccxt bot's MARKET order is in flight: after the restart the bot's `fetch_order`
by `clientOrderId` finds exactly one order, executed once (the fault points of test_crash.py)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import aiohttp
import ccxt
import pytest

from app.persistence.models import Fill, Order
from tests.support.binance_clients import Account
from tests.support.helpers import ServerProcess, open_ws
from tests.support.invariants import server_books

pytestmark = pytest.mark.crash


@pytest.mark.parametrize("fault", ["gateway.after_commit", "gateway.after_send", "executor.inside_tx",
                                   "executor.after_commit", "executor.after_send"])
async def test_a_bots_market_order_survives_a_kill_exactly_once(tmp_path: Path, fault: str) -> None:
    server = ServerProcess(tmp_path / "data")
    url = server.start(fault=fault)
    account = Account(url)
    bot = account.exchange()
    bot.load_markets()
    cid = "x-R4BD3S82crash0001"
    try:
        bot.create_order("BTC/USDT", "market", "buy", 0.001, params={"newClientOrderId": cid})
    except ccxt.NetworkError:
        pass  # the server died under the request: the bot cannot know whether it was placed
    assert server.wait_dead() == -9

    url = server.start()
    account.url = url
    bot = account.exchange()
    bot.load_markets()
    async with aiohttp.ClientSession(url) as session:
        token = str(account.http.headers["Authorization"]).split()[1]
        ws = await open_ws(session, token)
        await ws.wait_for(lambda m: any(o["clientOrderId"] == cid and o["status"] == "FILLED"
                                        for o in m.get("recentOrders", ()))
                          or (m.get("type") == "ORDER_UPDATE" and m["clientOrderId"] == cid
                              and m["status"] == "FILLED"), timeout=60)
        await ws.close()
    found = bot.fetch_order(None, "BTC/USDT", {"origClientOrderId": cid})
    assert found["clientOrderId"] == cid and found["status"] == "closed" and found["filled"] == 0.001
    assert [o["clientOrderId"] for o in bot.fetch_orders("BTC/USDT")] == [cid]
    server.stop()
    with server_books(server.data_dir):
        orders = list(Order.select().where(Order.client_order_id == cid))
        assert len(orders) == 1 and orders[0].status == "FILLED" and orders[0].executed_qty == Decimal("0.001")
        assert Fill.select().where(Fill.order_id == orders[0].id).count() == orders[0].fill_count >= 1
