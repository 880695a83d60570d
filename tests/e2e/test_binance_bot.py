"""A bot trading through the Binance-compatible API, watched by its owner in Chromium: the order
tables say which API key placed each order ("Via")."""

from __future__ import annotations

import time
from decimal import Decimal

import aiohttp
from playwright.async_api import expect

from app.api_keys import sign
from tests.e2e.conftest import NewContext, screenshot
from tests.e2e.test_terminal import sign_in
from tests.support.helpers import auth, new_api_key, register


async def test_the_terminal_shows_which_key_placed_a_bots_orders(new_context: NewContext, server: str) -> None:
    async with aiohttp.ClientSession(server) as http:
        token, user = await register(http)
        key = await new_api_key(http, token, ["read", "trade"])
        bid = Decimal((await (await http.get("/api/market/ticker?symbol=BTCUSDT")).json())["bid"])
        query = (f"symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001"
                 f"&price={(bid / 2).quantize(Decimal('0.01'))}&timestamp={int(time.time() * 1000)}")
        resp = await http.post(f"/api/v3/order?{query}&signature={sign(key['secretKey'], query.encode())}",
                               headers={"X-MBX-APIKEY": key["apiKey"]})
        assert resp.status == 200, await resp.text()
        bot_order = (await resp.json())["orderId"]
        web_order = await http.post("/api/trading/orders", headers=auth(token),
                                    json={"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.001",
                                          "price": str((bid / 3).quantize(Decimal("0.01")))})
        assert web_order.status == 202
        web_id = (await web_order.json())["orderId"]
    ctx = await new_context()
    page = await ctx.new_page()
    await page.goto("/login")
    await sign_in(page, user["email"])
    table = page.get_by_role("table", name="Open orders")
    await expect(table.locator(f'tr[data-order-id="{bot_order}"] td.via')).to_have_text(f"Key #{key['id']}")
    await expect(table.locator(f'tr[data-order-id="{web_id}"] td.via')).to_have_text("Web")
    await expect(table.get_by_role("columnheader", name="Via")).to_be_visible()
    await screenshot(page, "terminal-bot-order-via-key")
