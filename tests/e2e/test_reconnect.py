"""The terminal survives a server restart: it shows the outage, reconnects with backoff, and
resyncs from the snapshot, including an order it could not have heard about live."""

from __future__ import annotations

import asyncio

from playwright.async_api import expect

from tests.e2e.conftest import NewContext
from tests.e2e.test_terminal import register
from tests.support.helpers import PASSWORD, ServerProcess


async def test_reconnects_after_a_restart_and_resyncs_from_the_snapshot(
        new_context: NewContext, server_process: ServerProcess) -> None:
    page = await (await new_context(outage=True)).new_page()
    email = await register(page)
    login = await page.request.post("/auth/login", data={"email": email, "password": PASSWORD})
    token = (await login.json())["token"]
    connection = page.get_by_role("status").filter(has_text="Live")

    server_process.kill()
    await expect(page.get_by_role("status").filter(has_text="Offline")).to_be_visible()
    await asyncio.get_running_loop().run_in_executor(None, server_process.start)
    # An order placed by another client of the same user right after the restart: if the page is
    # still backing off, only the snapshot on reconnect can bring it.
    placed = await page.request.post("/api/trading/orders", headers={"Authorization": f"Bearer {token}"},
                                     data={"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.01"})
    assert placed.status == 202, await placed.text()
    order_id = (await placed.json())["orderId"]

    await expect(connection).to_be_visible(timeout=30_000)
    await page.get_by_role("tab", name="Order history").click()
    row = page.get_by_role("table", name="Order history").locator(f'tbody tr[data-order-id="{order_id}"]')
    await expect(row.locator("td.status")).to_have_attribute("data-status", "FILLED")
