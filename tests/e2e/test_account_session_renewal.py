"""The terminal keeps its session alive (issue 11): it renews the short access token silently
before it expires, and an order answered 401 (the access cookie gone) is renewed and sent again
once, the same request with the same clientOrderId, so exactly one order exists."""

from __future__ import annotations

import json

import pytest
from playwright.async_api import Request, expect

from tests.e2e.conftest import NewContext
from tests.e2e.test_terminal import off_market, register

ACCESS_TTL_S = 60  # the shortest ACCESS_TTL_SECONDS settings.py allows: renewed about 20 s before it ends


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    return {"ACCESS_TTL_SECONDS": str(ACCESS_TTL_S)}


async def test_the_terminal_renews_silently_and_retries_an_order_once_after_a_401(new_context: NewContext) -> None:
    context = await new_context()
    page = await context.new_page()
    await register(page)
    first_access = int(await page.locator("#terminal").get_attribute("data-access-expires") or 0)
    session_end = int(await page.locator("#terminal").get_attribute("data-session-expires") or 0)
    assert session_end - first_access > 29 * 86400_000  # the session outlives its access token by far

    async with page.expect_response(lambda r: r.url.endswith("/auth/refresh"),
                                    timeout=ACCESS_TTL_S * 1000) as renewal:
        pass
    assert (await renewal.value).status == 200
    renewed = json.loads(await (await renewal.value).text())
    assert renewed["expiresAt"] > first_access and renewed["sessionExpiresAt"] == session_end
    await expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()
    await expect(page.get_by_role("alert").filter(has_text="Your session")).to_be_hidden()

    # The access cookie is gone (as after a laptop's sleep): the order is answered 401, the page
    # renews and sends the very same request again.
    await context.clear_cookies(name="troupe_session")
    sent: list[Request] = []
    page.on("request", lambda r: sent.append(r) if r.url.endswith("/api/trading/orders") and r.method == "POST"
            else None)
    await page.get_by_label("Limit", exact=True).check()
    await page.get_by_label("Price (USDT)", exact=True).fill(str(await off_market(page, "0.5")))
    await page.get_by_label("Amount", exact=True).fill("0.01")
    await page.get_by_role("button", name="Buy BTC").click()
    await page.get_by_role("tab", name="Open orders").click()
    await expect(page.get_by_role("table", name="Open orders").locator("tbody tr[data-order-id]")).to_have_count(1)
    statuses = [(await r.response()).status for r in sent]  # type: ignore[union-attr]
    assert statuses == [401, 202], statuses
    assert sent[0].post_data == sent[1].post_data and "clientOrderId" in (sent[0].post_data or "")
    orders = (await (await page.request.get("/api/trading/orders")).json())["orders"]
    assert len(orders) == 1
    await expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()
