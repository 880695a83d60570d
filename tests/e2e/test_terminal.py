"""The trader's journey in a real browser against a real server: register, chart, market buy by
hotkey, limit order and cancel, logout; and a second user who never sees the first one's orders."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from playwright.async_api import Page, expect

from tests.e2e.conftest import NewContext, screenshot
from tests.support.helpers import PASSWORD, new_email

# The chart's candle body colours (static/js/chart.js): drawn pixels of exactly these colours mean
# candles are on the canvas, not just that a canvas exists.
CANDLE_COLOURS = [(14, 203, 129), (246, 70, 93)]
COUNT_CANDLE_PIXELS = """(colours) => {
  let n = 0;
  for (const canvas of document.querySelectorAll('#chart canvas')) {
    if (!canvas.width || !canvas.height) continue;
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < data.length; i += 4) {
      if (colours.some(([r, g, b]) => data[i] === r && data[i + 1] === g && data[i + 2] === b)) n++;
    }
  }
  return n;
}"""


async def register(page: Page, email: str | None = None) -> str:
    email = email or new_email()
    await page.goto("/register")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await expect(page).to_have_url(f"{_origin(page)}/trade/BTCUSDT")
    await expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()
    return email


async def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Fill the login form already on the page; lands on the BTCUSDT terminal, connected."""
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page).to_have_url(f"{_origin(page)}/trade/BTCUSDT")
    await expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()


def _origin(page: Page) -> str:
    return page.url.split("/", 3)[0] + "//" + page.url.split("/", 3)[2]


def free(page: Page, asset: str) -> Any:
    return page.get_by_role("table", name="Balances").locator(f'tr[data-asset="{asset}"] td.free')


def locked(page: Page, asset: str) -> Any:
    return page.get_by_role("table", name="Balances").locator(f'tr[data-asset="{asset}"] td.locked')


async def off_market(page: Page, factor: str) -> Decimal:
    """The last price times `factor`, on BTCUSDT's 0.01 tick: a price that rests rather than fills."""
    last = Decimal(await page.get_by_label("Last price").get_attribute("data-value") or "")
    return (last * Decimal(factor)).quantize(Decimal("0.01"))


async def amount_of(cell: Any) -> Decimal:
    return Decimal(await cell.get_attribute("data-value"))


def history_row(page: Page, order_id: str) -> Any:
    return page.get_by_role("table", name="Order history").locator(f'tbody tr[data-order-id="{order_id}"]')


async def test_trader_journey(new_context: NewContext) -> None:
    ctx = await new_context(color_scheme="dark")
    page = await ctx.new_page()
    await register(page)

    # The chart has drawn candles, and a timeframe switch redraws it.
    chart = page.get_by_role("img", name="BTCUSDT candlestick chart with volume")
    await expect(chart).to_have_attribute("data-interval", "1m")
    await expect(chart).not_to_have_attribute("data-candles", "0")
    assert await page.evaluate(COUNT_CANDLE_PIXELS, CANDLE_COLOURS) > 200
    await page.get_by_role("button", name="5m", exact=True).click()
    await expect(page.get_by_role("button", name="5m", exact=True)).to_have_attribute("aria-pressed", "true")
    await expect(chart).to_have_attribute("data-interval", "5m")
    assert await page.evaluate(COUNT_CANDLE_PIXELS, CANDLE_COLOURS) > 200
    await expect(page.get_by_label("Last price")).not_to_have_text("—")

    # Market buy with the B hotkey: M (market), B (buy, focus on the amount), type, Enter.
    usdt_before_text = await free(page, "USDT").get_attribute("data-value")
    usdt_before = Decimal(usdt_before_text)
    btc_before = await amount_of(free(page, "BTC"))
    await page.get_by_role("tab", name="Order history").click()
    await page.keyboard.press("m")
    await page.keyboard.press("b")
    amount = page.get_by_label("Amount", exact=True)
    await expect(amount).to_be_focused()
    await expect(page.get_by_role("button", name="Buy BTC")).to_be_visible()
    await page.keyboard.type("0.01")
    await expect(page.locator("#estimate")).to_contain_text("USDT")
    started = time.monotonic()
    await page.keyboard.press("Enter")
    row = page.get_by_role("table", name="Order history").locator("tbody tr").first
    await expect(row.locator("td.status")).to_have_attribute("data-status", "FILLED", timeout=2000)
    filled_after = time.monotonic() - started
    assert filled_after < 2
    await expect(page.get_by_role("status").filter(has_text="filled at")).to_be_visible()
    order_id = await row.get_attribute("data-order-id")
    assert order_id is not None
    cost = await amount_of(row.locator("td.total"))
    assert cost > 0
    # The balance moves by exactly the filled cost (the fee is charged in BTC on a buy).
    await expect(free(page, "USDT")).not_to_have_attribute("data-value", usdt_before_text)
    assert await amount_of(free(page, "USDT")) == usdt_before - cost
    assert await amount_of(locked(page, "USDT")) == 0
    assert await amount_of(free(page, "BTC")) > btc_before
    api_order = await (await page.request.get(f"/api/trading/orders/{order_id}")).json()
    assert Decimal(api_order["cummulativeQuoteQty"]) == cost and api_order["status"] == "FILLED"
    await page.get_by_role("tab", name="Positions", exact=True).click()
    position = page.get_by_role("table", name="Positions", exact=True).locator('tr[data-asset="BTC"]')
    await expect(position.locator("td").nth(4)).not_to_have_text("—")  # live unrealized PnL

    # A limit buy far below the market rests; cancel it from the open orders.
    await page.keyboard.press("Escape")
    await page.keyboard.press("l")
    price = page.get_by_label("Price (USDT)", exact=True)
    await expect(price).to_be_focused()
    far = await off_market(page, "0.5")
    await price.fill(f"{far}5")  # off the 0.01 tick: the API's error shows on the price field
    await amount.fill("0.01")
    await page.get_by_role("button", name="Buy BTC").click()
    await expect(page.get_by_role("alert")).to_contain_text("PRICE_FILTER")
    await expect(price).to_have_attribute("aria-invalid", "true")
    await price.fill(str(far))
    await expect(page.get_by_role("alert")).to_be_hidden()
    await expect(page.locator("#estimate")).to_have_attribute("data-value", _plain(far * Decimal("0.01")))
    await page.get_by_role("button", name="Buy BTC").click()
    await page.get_by_role("tab", name="Open orders").click()
    open_row = page.get_by_role("table", name="Open orders").locator("tbody tr").first
    await expect(open_row.locator("td.status")).to_have_attribute("data-status", "NEW")
    limit_id = await open_row.get_attribute("data-order-id")
    await expect(locked(page, "USDT")).to_have_attribute("data-value", _plain(far * Decimal("0.01")))
    await screenshot(page, "terminal-trading")
    await page.get_by_role("button", name=f"Cancel order {limit_id}").click()
    await expect(page.get_by_text("No open orders.")).to_be_visible()
    await page.get_by_role("tab", name="Order history").click()
    assert limit_id is not None
    await expect(history_row(page, limit_id).locator("td.status")).to_have_attribute("data-status", "CANCELED")
    await expect(locked(page, "USDT")).to_have_attribute("data-value", "0")
    assert await amount_of(free(page, "USDT")) == usdt_before - cost

    # Log out: the terminal is gone and the API refuses the old browser.
    await page.get_by_role("button", name="Log out").click()
    await expect(page).to_have_url(f"{_origin(page)}/login")
    await page.goto("/trade/BTCUSDT")
    await expect(page).to_have_url(f"{_origin(page)}/login?next=/trade/BTCUSDT")
    assert (await page.request.get("/api/trading/orders")).status == 401


def _plain(value: Decimal) -> str:
    """Decimal as the API writes it: no exponent, no trailing zeros."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


async def test_second_user_never_sees_the_first_users_orders(new_context: NewContext) -> None:
    first = await (await new_context()).new_page()
    second = await (await new_context()).new_page()
    await register(first)
    await register(second)  # connected (Live) before the first user trades
    for page in (first, second):
        await page.get_by_role("tab", name="Order history").click()

    await first.get_by_label("Amount", exact=True).fill("0.002")
    await first.get_by_role("button", name="Buy BTC").click()
    first_row = first.get_by_role("table", name="Order history").locator("tbody tr").first
    await expect(first_row.locator("td.status")).to_have_attribute("data-status", "FILLED")
    first_id = await first_row.get_attribute("data-order-id")

    # The second user's own order: once it shows FILLED, any leaked event of the first user's
    # (sent earlier) would already be on the page.
    await second.get_by_label("Amount", exact=True).fill("0.003")
    await second.get_by_role("button", name="Buy BTC").click()
    second_rows = second.get_by_role("table", name="Order history").locator("tbody tr")
    await expect(second_rows.first.locator("td.status")).to_have_attribute("data-status", "FILLED")
    await expect(second_rows).to_have_count(1)
    assert await second_rows.first.get_attribute("data-order-id") != first_id
    assert (await second.request.get(f"/api/trading/orders/{first_id}")).status == 404
    orders = (await (await second.request.get("/api/trading/orders")).json())["orders"]
    assert [o["origQty"] for o in orders] == ["0.003"]
    await second.reload()
    await second.get_by_role("tab", name="Order history").click()
    await expect(second.get_by_role("table", name="Order history").locator("tbody tr")).to_have_count(1)


async def test_theme_persists_and_pages_render_at_desktop_and_phone_width(new_context: NewContext) -> None:
    ctx = await new_context(color_scheme="dark")
    page = await ctx.new_page()
    await page.goto("/login")
    await screenshot(page, "login")
    await page.goto("/register")
    await screenshot(page, "register")
    await register(page)
    html = page.locator("html")
    await expect(html).to_have_attribute("data-theme", "dark")
    await expect(page.get_by_role("img", name="BTCUSDT candlestick chart with volume")).not_to_have_attribute(
        "data-candles", "0")
    await screenshot(page, "terminal-dark")
    await page.get_by_role("button", name="Switch to light theme").click()
    await expect(html).to_have_attribute("data-theme", "light")
    await page.reload()
    await expect(html).to_have_attribute("data-theme", "light")
    await expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()
    await expect(page.get_by_role("img", name="BTCUSDT candlestick chart with volume")).not_to_have_attribute(
        "data-candles", "0")
    await screenshot(page, "terminal-light")

    await page.keyboard.press("?")
    await expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    await screenshot(page, "help")
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_hidden()

    separator = page.get_by_role("separator", name="Resize the order panel")
    panel = page.get_by_role("complementary", name="Order entry and balances")
    before = (await panel.bounding_box() or {})["width"]
    await separator.focus()
    for _ in range(3):
        await page.keyboard.press("ArrowLeft")
    await expect(separator).to_have_attribute("aria-valuenow", str(int(before) + 48))
    await page.reload()
    assert (await panel.bounding_box() or {})["width"] == before + 48, "the panel size is kept"

    await page.get_by_role("link", name="ETHUSDT").click()
    await expect(page).to_have_url(f"{_origin(page)}/trade/ETHUSDT")
    await expect(page.get_by_role("button", name="Buy ETH")).to_be_visible()

    await page.goto("/account")
    await page.get_by_label("API key", exact=True).fill("TestnetApiKey0123456789abcdWXYZ")
    await page.get_by_label("Secret key", exact=True).fill("TestnetSecret0123456789abcdefSECRET")
    await page.get_by_role("button", name="Save keys").click()
    await expect(page.get_by_label("API key ending in WXYZ")).to_have_text("••••••••WXYZ")
    await screenshot(page, "account")

    phone = await (await new_context(viewport={"width": 390, "height": 844}, color_scheme="dark")).new_page()
    await register(phone)
    await expect(phone.get_by_role("img", name="BTCUSDT candlestick chart with volume")).not_to_have_attribute(
        "data-candles", "0")
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "no sideways scrolling on a phone"
    await expect(phone.get_by_role("button", name="Buy BTC")).to_be_visible()
    await screenshot(phone, "terminal-phone")


async def test_every_control_has_an_accessible_name(new_context: NewContext) -> None:
    page = await (await new_context()).new_page()
    await register(page)
    unnamed = await page.evaluate("""() => [...document.querySelectorAll('button, input, select, a, [role]')]
      .filter((el) => el.type !== 'hidden' && !el.closest('[hidden]'))
      .filter((el) => !(el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
                        || (el.labels && el.labels.length) || el.textContent.trim()))
      .map((el) => el.outerHTML.slice(0, 80))""")
    assert unnamed == []


async def test_stop_loss_from_the_order_form(new_context: NewContext) -> None:
    page = await (await new_context()).new_page()
    await register(page)
    await page.get_by_label("Sell", exact=True).check()
    await page.get_by_label("Stop", exact=True).check()
    await expect(page.get_by_label("Trigger", exact=True)).to_be_visible()
    stop_price = await off_market(page, "0.9")
    await page.get_by_label("Stop price (USDT)").fill(str(stop_price))
    await page.get_by_label("Amount", exact=True).fill("0.01")
    await expect(page.locator("#estimate")).to_have_attribute("data-value", _plain(stop_price * Decimal("0.01")))
    await page.get_by_role("button", name="Sell BTC").click()
    row = page.get_by_role("table", name="Open orders").locator("tbody tr").first
    await expect(row.locator("td.status")).to_have_attribute("data-status", "NEW")
    await expect(row).to_contain_text("STOP LOSS")
    await expect(row).to_contain_text(_plain(stop_price))
    await expect(locked(page, "BTC")).to_have_attribute("data-value", "0.01")
    await screenshot(page, "terminal-stop-order")
    order_id = await row.get_attribute("data-order-id")
    await page.get_by_role("button", name=f"Cancel order {order_id}").click()
    await expect(page.get_by_text("No open orders.")).to_be_visible()
    await expect(locked(page, "BTC")).to_have_attribute("data-value", "0")


async def test_oco_from_the_order_form_cancels_as_a_list(new_context: NewContext) -> None:
    page = await (await new_context()).new_page()
    await register(page)
    await page.get_by_label("Sell", exact=True).check()
    await page.get_by_label("OCO", exact=True).check()
    take_profit, stop_price = await off_market(page, "1.1"), await off_market(page, "0.9")
    await page.get_by_label("Take-profit price (USDT)").fill(str(take_profit))
    await page.get_by_label("Stop price (USDT)").fill(str(stop_price))
    await page.get_by_label("Amount", exact=True).fill("0.01")
    await page.get_by_role("button", name="Sell BTC").click()
    rows = page.get_by_role("table", name="Open orders").locator("tbody tr")
    await expect(rows).to_have_count(2)
    for i in range(2):
        await expect(rows.nth(i).locator("td.status")).to_have_attribute("data-status", "NEW")
    await expect(page.get_by_role("table", name="Open orders")).to_contain_text("LIMIT MAKER")
    await expect(locked(page, "BTC")).to_have_attribute("data-value", "0.01")
    stop_row = rows.filter(has_text="STOP LOSS")
    stop_id = await stop_row.get_attribute("data-order-id")
    await page.get_by_role("button", name=f"Cancel order {stop_id}").click()
    await expect(page.get_by_text("No open orders.")).to_be_visible()
    await expect(locked(page, "BTC")).to_have_attribute("data-value", "0")


async def test_cfd_panel_previews_the_liquidation_price_opens_and_closes(new_context: NewContext) -> None:
    page = await (await new_context(color_scheme="dark")).new_page()
    await register(page)
    await page.get_by_role("tab", name="CFD", exact=True).click()
    await page.get_by_label("Margin (USDT)").fill("100")
    await page.get_by_label("Leverage").fill("20")
    await expect(page.locator("#cfd-leverage-out")).to_have_text("20×")
    preview = page.locator("#cfd-liquidation")
    await expect(preview).not_to_have_text("—")
    await page.get_by_role("tab", name="CFD positions").click()
    await page.get_by_role("button", name="Open long").click()
    row = page.get_by_role("table", name="CFD positions").locator("tbody tr").first
    await expect(row).to_contain_text("Long")
    position_id = await row.get_attribute("data-position-id")
    api = await (await page.request.get(f"/api/cfd/positions/{position_id}")).json()
    entry, qty = Decimal(api["entryPrice"]), Decimal(api["quantity"])
    from app.cfd import rules
    from app.cfd.rules import Direction
    assert Decimal(api["liquidationPrice"]) == rules.liquidation_price(Direction.LONG, entry, qty, Decimal(100),
                                                                      Decimal("0.005"), Decimal("0.01"))
    await expect(row.locator("td.liq")).to_have_attribute("data-value", _plain(Decimal(api["liquidationPrice"])))
    await expect(row.locator("td.pnl")).not_to_have_attribute("data-value", "")  # live PnL
    await expect(page.locator("#cfd-balance")).to_have_attribute("data-value", _plain(
        Decimal(1000) - 100 - Decimal(api["openFee"])))
    await screenshot(page, "terminal-cfd")
    await page.get_by_role("button", name=f"Close CFD position {position_id}").click()
    await expect(page.get_by_text("No open CFD positions.")).to_be_visible()
    await page.get_by_role("tab", name="CFD history").click()
    await expect(page.get_by_role("table", name="CFD history").locator("tbody tr").first).to_contain_text("CLOSED")


async def test_failed_login_and_register_pages_are_signed_out(new_context: NewContext) -> None:
    """A failed sign-in keeps the typed e-mail in the form; the top bar stays signed out."""
    page = await (await new_context()).new_page()
    email = await register(page)
    await page.get_by_role("button", name="Log out").click()
    top_bar = page.get_by_role("banner")
    attempts = (("/login", "not the password", "Log in", "wrong e-mail or password"),
                ("/register", "a long passphrase", "Create account", "already registered"))
    for path, password, button, error in attempts:
        await page.goto(path)
        await page.get_by_label("E-mail").fill(email)
        await page.get_by_label("Password").fill(password)
        await page.get_by_role("button", name=button).click()
        await expect(page.get_by_role("alert")).to_contain_text(error)
        await expect(page.get_by_label("E-mail")).to_have_value(email)
        await expect(top_bar).not_to_contain_text(email)
        await expect(top_bar.get_by_role("button", name="Log out")).to_have_count(0)
        await expect(top_bar.get_by_role("link", name="Log in")).to_be_visible()


async def test_switching_from_limit_to_stop_or_oco_never_carries_the_limit_price(new_context: NewContext) -> None:
    """Each order type keeps its own prices: a typed limit price must not turn a stop-market into a stop-limit."""
    page = await (await new_context()).new_page()
    await register(page)
    await page.get_by_label("Sell", exact=True).check()
    await page.get_by_label("Limit", exact=True).check()
    limit_price = str(await off_market(page, "1.2"))
    await page.get_by_label("Price (USDT)", exact=True).fill(limit_price)

    await page.get_by_label("Stop", exact=True).check()
    await expect(page.get_by_label("Limit price (USDT, optional)", exact=True)).to_have_value("")
    stop_price = str(await off_market(page, "0.9"))
    await page.get_by_label("Stop price (USDT)").fill(stop_price)
    await page.get_by_label("Amount", exact=True).fill("0.01")
    await page.get_by_role("button", name="Sell BTC").click()
    row = page.get_by_role("table", name="Open orders").locator("tbody tr").first
    await expect(row.locator("td.status")).to_have_attribute("data-status", "NEW")
    placed = (await (await page.request.get("/api/trading/orders?status=OPEN")).json())["orders"]
    assert [(o["type"], Decimal(o["stopPrice"]), o["price"]) for o in placed] == [
        ("STOP_LOSS", Decimal(stop_price), None)]

    # OCO starts with its own empty take-profit and stop fields; Limit still has its typed price.
    await page.get_by_label("OCO", exact=True).check()
    for label in ("Take-profit price (USDT)", "Stop price (USDT)", "Stop limit price (USDT, optional)"):
        await expect(page.get_by_label(label, exact=True)).to_have_value("")
    await page.get_by_label("Limit", exact=True).check()
    await expect(page.get_by_label("Price (USDT)", exact=True)).to_have_value(limit_price)
    await page.get_by_label("Stop", exact=True).check()
    await expect(page.get_by_label("Stop price (USDT)")).to_have_value(stop_price)
    await expect(page.get_by_label("Limit price (USDT, optional)", exact=True)).to_have_value("")


async def test_an_order_after_logging_out_in_another_tab_is_not_sent_and_is_kept(new_context: NewContext) -> None:
    """A sign-out elsewhere ends the session in the page: it says so within 2 s, an order is NOT sent,
    the page stays put and keeps the form."""
    ctx = await new_context()
    trading = await ctx.new_page()
    email = await register(trading)
    other = await ctx.new_page()
    await other.goto("/trade/BTCUSDT")
    await other.get_by_role("button", name="Log out").click()
    await expect(other).to_have_url(f"{_origin(other)}/login")
    # The server closes the session's sockets (4001): the page knows at once, before any click.
    await expect(trading.get_by_role("status").filter(has_text="Signed out")).to_be_visible(timeout=2000)

    await trading.get_by_label("Sell", exact=True).check()
    await trading.get_by_label("Amount", exact=True).fill("0.01")
    await trading.get_by_role("button", name="Sell BTC").click()
    notice = trading.get_by_role("alert").filter(has_text="Your order was NOT sent")
    await expect(notice).to_be_visible()
    await expect(trading.locator("#order-error")).to_contain_text("Not sent")
    await expect(trading.get_by_role("status").filter(has_text="Signed out")).to_be_visible()
    assert trading.url == f"{_origin(trading)}/trade/BTCUSDT"
    await expect(trading.get_by_label("Amount", exact=True)).to_have_value("0.01")

    await notice.get_by_role("link", name="Sign in again").click()
    await expect(trading).to_have_url(f"{_origin(trading)}/login?next=/trade/BTCUSDT")
    await sign_in(trading, email)
    await expect(trading.get_by_label("Amount", exact=True)).to_have_value("0.01")
    await expect(trading.get_by_label("Sell", exact=True)).to_be_checked()
    assert (await (await trading.request.get("/api/trading/orders")).json())["orders"] == []
