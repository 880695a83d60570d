"""A session that runs out under the trader: warned before, told when it has ended, an order typed
after that is not sent (and the page stays), and what was typed comes back after signing in again."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from playwright.async_api import Page, Request, expect

from tests.e2e.conftest import NewContext, screenshot
from tests.e2e.test_terminal import register, sign_in

TTL_S = 60  # about the shortest SESSION_MAX_DAYS settings.py allows (0.0007 days: 60.48 s)


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    return {"SESSION_MAX_DAYS": "0.0007", "ACCESS_TTL_SECONDS": str(TTL_S)}


async def _both_themes(page: Page, name: str) -> None:
    """Screenshots of the page as it is, then in the other theme, then back."""
    theme = await page.locator("html").get_attribute("data-theme")
    other = "light" if theme == "dark" else "dark"
    await screenshot(page, f"{name}-{theme}")
    await page.get_by_role("button", name=f"Switch to {other} theme").click()
    await expect(page.locator("html")).to_have_attribute("data-theme", other)
    await screenshot(page, f"{name}-{other}")
    await page.get_by_role("button", name=f"Switch to {theme} theme").click()


async def test_an_expiring_session_warns_then_refuses_the_order_and_keeps_what_was_typed(
        new_context: NewContext) -> None:
    page = await (await new_context(color_scheme="dark", timezone_id="UTC")).new_page()
    email = await register(page)
    origin = page.url.removesuffix("/trade/BTCUSDT")

    # Less than five minutes remain from the start: the notice is there at once, with the time.
    expires_ms = int(await page.locator("#terminal").get_attribute("data-session-expires") or 0)
    ends_at = datetime.fromtimestamp(expires_ms / 1000, UTC).strftime("%H:%M")
    notice = page.get_by_role("alert").filter(has_text="Your session ends at")
    await expect(notice).to_contain_text(f"Your session ends at {ends_at} — sign in again to keep trading")
    await expect(notice.get_by_role("link", name="Sign in again")).to_have_attribute(
        "href", "/login?next=/trade/BTCUSDT")
    await _both_themes(page, "session-ending")

    signed_out = page.get_by_role("status").filter(has_text="Signed out")
    await expect(signed_out).to_be_visible(timeout=(TTL_S + 30) * 1000)
    ended = page.get_by_role("alert").filter(has_text="Your session has ended")
    await expect(ended).to_be_visible()
    tickets: list[str] = []

    def ticket_request(request: Request) -> None:
        if "/api/ws-ticket" in request.url:
            tickets.append(request.url)

    page.on("request", ticket_request)

    # Typed after the end: a CFD margin, then a spot limit sell; the click on Sell sends nothing.
    await page.get_by_role("tab", name="CFD", exact=True).click()
    await page.get_by_label("Margin (USDT)").fill("25")
    await page.get_by_role("tab", name="Spot", exact=True).click()
    await page.get_by_label("Sell", exact=True).check()
    await page.get_by_label("Limit", exact=True).check()
    await page.get_by_label("Price (USDT)", exact=True).fill("123456.78")
    await page.get_by_label("Amount", exact=True).fill("0.02")
    await page.get_by_role("button", name="Sell BTC").click()
    not_sent = page.get_by_role("alert").filter(has_text="Your order was NOT sent")
    await expect(not_sent).to_be_visible()
    await expect(page.locator("#order-error")).to_contain_text("Not sent")
    assert page.url == f"{origin}/trade/BTCUSDT"
    await expect(page.get_by_label("Amount", exact=True)).to_have_value("0.02")
    await expect(signed_out).to_be_visible()
    assert tickets == [], "no reconnect loop once signed out"
    await _both_themes(page, "session-order-not-sent")

    # Sign in again from the notice: back on the terminal with everything typed, once.
    await not_sent.get_by_role("link", name="Sign in again").click()
    await expect(page).to_have_url(f"{origin}/login?next=/trade/BTCUSDT")
    await sign_in(page, email)
    await expect(page.get_by_role("status").filter(has_text="Restored what you typed")).to_be_visible()
    await expect(page.get_by_label("Sell", exact=True)).to_be_checked()
    await expect(page.get_by_label("Limit", exact=True)).to_be_checked()
    await expect(page.get_by_label("Price (USDT)", exact=True)).to_have_value("123456.78")
    await expect(page.get_by_label("Amount", exact=True)).to_have_value("0.02")
    await page.get_by_role("tab", name="CFD", exact=True).click()
    await expect(page.get_by_label("Margin (USDT)")).to_have_value("25")
    assert (await (await page.request.get("/api/trading/orders")).json())["orders"] == []
    assert await page.evaluate("sessionStorage.getItem('troupe-draft:BTCUSDT')") is None
    await page.reload()
    await expect(page.get_by_label("Amount", exact=True)).to_have_value("")

    # On a phone the notice is a strip above the chart, in the page's single column.
    await page.set_viewport_size({"width": 390, "height": 844})
    await expect(notice).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await screenshot(page, "session-ending-phone")
