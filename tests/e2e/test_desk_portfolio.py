"""The terminal's portfolio, notifications, outage handling and phone layout in Chromium against a real
server: the Portfolio tab shows exactly what `/api/account/equity` answered (equity, curve points,
allocation adding up to 100 %), ranges switch; the bell records a fill and a rejection; browser
notifications are asked for only when turned on; toasts never cover the balances; a disconnected page
disables its actions with the reason and recovers on reconnect; nothing overflows a 390 px phone."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

from playwright.async_api import Page, Response, expect

from tests.e2e.conftest import NewContext, screenshot
from tests.e2e.test_terminal import off_market, register
from tests.support.helpers import PASSWORD, ServerProcess, auth

PHONE = {"width": 390, "height": 844}
# The browser's Notification, recorded: how often permission was asked, and what was shown.
RECORD_NOTIFICATIONS = """(() => {
  const Real = window.Notification;
  window.__asked = 0;
  window.__shown = [];
  class Recorded extends Real {
    constructor(title, options) { super(title, options); window.__shown.push(`${title}: ${options?.body ?? ""}`); }
    static get permission() { return Real.permission; }
    static requestPermission() { window.__asked += 1; return Real.requestPermission(); }
  }
  window.Notification = Recorded;
})();"""


async def token_of(page: Page, email: str) -> str:
    login = await page.request.post("/auth/login", data={"email": email, "password": PASSWORD})
    return str((await login.json())["token"])


async def place(page: Page, token: str, **order: str) -> dict[str, Any]:
    """An order from another client of the same user (a bot): the page hears of it only on the WebSocket."""
    placed = await page.request.post("/api/trading/orders", headers=auth(token), data={"symbol": "BTCUSDT", **order})
    assert placed.status == 202, await placed.text()
    return dict(await placed.json())


def boxes_overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])


SHOWN = """() => ({
  equity: document.getElementById("portfolio-equity").dataset.value,
  points: document.getElementById("equity-chart").dataset.points,
  range: document.getElementById("equity-chart").dataset.range,
  last: document.getElementById("equity-chart").dataset.last,
  rows: [...document.querySelectorAll("#allocation li")].map((li) => ({
    asset: li.dataset.asset, value: li.dataset.value, pct: li.dataset.pct, text: li.textContent })),
})"""


async def shown_and_answer(page: Page, answers: list[Response], after: int = 0,
                           timeout: float = 10.0) -> tuple[dict[str, Any], dict[str, Any]]:
    """What the tab shows, read at one instant, and the equity answer (received after the first `after`)
    it was drawn from: the newest whose figure and range it shows. Prices move between answers, so each
    reading is matched to its own answer rather than to a fresh request."""
    deadline = time.monotonic() + timeout
    while True:
        shown = await page.evaluate(SHOWN)
        for response in reversed(answers[after:]):
            assert response.ok, await response.text()
            body = dict(await response.json())
            if body["now"]["equity"] == shown["equity"] and (shown["range"] != "all" or body["from"] == 0):
                return shown, body
        assert time.monotonic() < deadline, f"the tab shows no answer it received: {shown}"
        await asyncio.sleep(0.1)  # poll-with-timeout for a condition


async def test_portfolio_shows_the_apis_equity_curve_and_allocation(new_context: NewContext) -> None:
    page = await (await new_context(color_scheme="dark")).new_page()
    email = await register(page)
    token = await token_of(page, email)
    starting = (await (await page.request.get("/api/trading/balances")).json())["balances"]
    await place(page, token, side="BUY", type="MARKET", quantity="0.05")
    btc = page.get_by_role("table", name="Balances").locator('tr[data-asset="BTC"] td.free')
    await expect(btc).not_to_have_attribute("data-value", next(b["free"] for b in starting if b["asset"] == "BTC"))

    answers: list[Response] = []
    page.on("response", lambda r: answers.append(r) if "/api/account/equity" in r.url else None)
    await page.get_by_role("tab", name="Portfolio").click()
    equity = page.get_by_label("Total equity (USDT)")
    await expect(equity).not_to_have_text("—")
    shown, body = await shown_and_answer(page, answers)
    now = body["now"]
    assert Decimal(now["equity"]) == Decimal(now["spot"]) + Decimal(now["cfd"])
    assert sum(Decimal(a["value"]) for a in now["assets"]) == Decimal(now["spot"]), "the allocation is the spot value"
    assert {a["asset"] for a in now["assets"]} >= {"BTC", "USDT"}

    # The allocation: each row the API's exact value, the shares adding up to exactly 100 %.
    expected = {a["asset"]: a["value"] for a in now["assets"] if Decimal(a["value"]) != 0}
    if Decimal(now["cfd"]) != 0:
        expected["CFD"] = now["cfd"]
    assert {r["asset"]: r["value"] for r in shown["rows"]} == expected
    for r in shown["rows"]:
        assert f"{r['pct']} %" in r["text"] and f"{r['value']} USDT" in r["text"].replace(",", "")
        exact = Decimal(r["value"]) * 100 / Decimal(now["equity"])
        assert abs(Decimal(r["pct"]) - exact) < Decimal("0.01"), (r, exact)
    assert sum(Decimal(r["pct"]) for r in shown["rows"]) == Decimal("100.00")
    await expect(page.get_by_role("list", name="Allocation").get_by_role("listitem")).to_have_count(len(expected))

    # The curve has the API's points (one per second at most: the chart's time unit); ranges switch.
    assert shown["points"] == str(len({p["time"] // 1000 for p in body["points"]})) and shown["range"] == "1d"
    chart = page.get_by_role("img", name="Equity curve", exact=False)
    for label, key, span in [("1 h", "1h", 3_600_000), ("1 w", "1w", 7 * 86_400_000), ("All", "all", None)]:
        await page.get_by_role("button", name=label, exact=True).click()
        await expect(page.get_by_role("button", name=label, exact=True)).to_have_attribute("aria-pressed", "true")
        await expect(chart).to_have_attribute("data-range", key)
        shown, body = await shown_and_answer(page, answers)
        if span is None:
            assert body["from"] == 0
        else:
            assert abs(body["to"] - span - body["from"]) < 60_000
        assert shown["points"] == str(len({p["time"] // 1000 for p in body["points"]}))
    assert body["points"], "the fill recorded a point"
    assert shown["last"] == body["points"][-1]["equity"]

    # Daily PnL: today's row, the API's figure.
    days = (await (await page.request.get("/api/account/pnl/daily")).json())["days"]
    today = page.get_by_role("table", name="Daily PnL (UTC)").locator(f'tr[data-day="{days[-1]["date"]}"]')
    await expect(today).to_be_visible()

    # Live: a sale changes the balances, and the tab reloads the equity by itself.
    before = len(answers)
    await place(page, token, side="SELL", type="MARKET", quantity="0.02")
    shown, body = await shown_and_answer(page, answers, after=before)
    assert any(a["asset"] == "BTC" for a in body["now"]["assets"])
    await screenshot(page, "portfolio")

    # The reset lives on the account page: a wrong password changes nothing, the right one starts over.
    await page.get_by_role("link", name="Reset account…").click()
    await expect(page.get_by_role("heading", name="Start over")).to_be_visible()
    await page.get_by_label("Your password, to confirm the reset").fill("not the password")
    await page.get_by_role("button", name="Reset the account").click()
    await expect(page.get_by_role("alert").filter(has_text="wrong password")).to_be_visible()
    await page.get_by_label("Your password, to confirm the reset").fill(PASSWORD)
    await page.get_by_role("button", name="Reset the account").click()
    await expect(page.get_by_role("status").filter(has_text="Reset done")).to_be_visible(timeout=15_000)
    balances = (await (await page.request.get("/api/trading/balances")).json())["balances"]
    assert balances == starting, "the starting wallet again"


async def test_the_bell_records_fills_and_rejections_and_browser_notifications_are_opt_in(
        new_context: NewContext) -> None:
    ctx = await new_context()
    await ctx.add_init_script(RECORD_NOTIFICATIONS)
    page = await ctx.new_page()
    email = await register(page)
    token = await token_of(page, email)
    bell = page.get_by_role("button", name="Notifications, none unread")
    await expect(bell).to_be_visible()
    assert await page.evaluate("window.__asked") == 0, "permission is never asked on load"

    await bell.click()
    toggle = page.get_by_label("Browser notifications")
    await expect(toggle).not_to_be_checked()
    await toggle.check()  # asked now; headless Chromium answers for the trader: not allowed
    await expect(page.get_by_text("The browser did not allow notifications")).to_be_visible()
    await expect(toggle).not_to_be_checked()
    assert await page.evaluate("window.__asked") == 1
    await ctx.grant_permissions(["notifications"])  # the trader allows them in the site settings
    await toggle.check()
    await expect(toggle).to_be_checked()
    await expect(page.get_by_text("The browser did not allow notifications")).to_be_hidden()
    await page.get_by_role("button", name="Notifications, none unread").click()  # closed again
    await expect(page.get_by_role("region", name="Notifications")).to_be_hidden()

    await place(page, token, side="BUY", type="MARKET", quantity="0.01")
    await place(page, token, side="BUY", type="MARKET", quantity="1000")  # far beyond the wallet
    refused = await page.request.post("/api/cfd/positions", headers=auth(token), data={
        "symbol": "BTCUSDT", "direction": "LONG", "margin": "100000000", "leverage": "10"})
    assert 400 <= refused.status < 500, await refused.text()
    bell = page.get_by_role("button", name="Notifications, 3 unread")
    await expect(bell).to_be_visible()
    await bell.click()
    history = page.get_by_role("list", name="Notification history")
    items = history.get_by_role("listitem")
    await expect(items.filter(has_text="Order filled")).to_contain_text("Buy 0.01 BTCUSDT filled at")
    await expect(items.filter(has_text="Order rejected")).to_contain_text("insufficient balance")
    await expect(items.filter(has_text="CFD order refused")).to_be_visible()
    await expect(page.get_by_role("button", name="Notifications, none unread")).to_be_visible()
    shown = await page.evaluate("window.__shown")
    assert any(s.startswith("Order filled: Buy 0.01 BTCUSDT") for s in shown), shown
    assert any(s.startswith("Order rejected:") for s in shown), shown
    await screenshot(page, "notifications")
    await page.keyboard.press("Escape")
    await expect(page.get_by_role("list", name="Notification history")).to_be_hidden()

    # The choice is kept across visits (permission granted), and still nothing is asked on load.
    await page.reload()
    await expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()
    await page.get_by_role("button", name="Notifications, none unread").click()
    await expect(page.get_by_label("Browser notifications")).to_be_checked()
    assert await page.evaluate("window.__asked") == 0


async def test_toasts_never_cover_the_balances(new_context: NewContext) -> None:
    for viewport in ({"width": 1280, "height": 720}, PHONE):
        page = await (await new_context(viewport=viewport)).new_page()
        email = await register(page)
        token = await token_of(page, email)
        for _ in range(3):
            await place(page, token, side="BUY", type="MARKET", quantity="0.001")
        toasts = page.get_by_role("status", name="Notifications").locator(".toast")
        await expect(toasts).to_have_count(3)
        balances = await page.get_by_role("region", name="Balances").bounding_box()
        assert balances is not None
        for i in range(3):
            box = await toasts.nth(i).bounding_box()
            assert box is not None and not boxes_overlap(box, balances), (viewport, box, balances)


async def test_phone_layout_scrolls_tables_and_tabs_inside_the_page(new_context: NewContext) -> None:
    page = await (await new_context(viewport=PHONE, color_scheme="dark")).new_page()
    email = await register(page)
    token = await token_of(page, email)
    await place(page, token, side="BUY", type="LIMIT", quantity="0.01", price=str(await off_market(page, "0.5")),
                timeInForce="GTC")
    await expect(page.get_by_role("table", name="Open orders").locator("tbody tr")).to_have_count(1)
    tablist = page.get_by_role("tablist", name="Orders and positions")
    tabs = tablist.get_by_role("tab")
    heights = {round((await tabs.nth(i).bounding_box() or {})["height"]) for i in range(await tabs.count())}
    assert len(heights) == 1 and max(heights) < 40, f"every tab label on one line: {heights}"
    strip = await tablist.evaluate("t => [t.scrollWidth, t.clientWidth, getComputedStyle(t).overflowX]")
    assert strip[0] > strip[1] and strip[2] == "auto", f"the tab strip scrolls: {strip}"
    pane = page.locator("#pane-open")
    table = await pane.evaluate("p => [p.scrollWidth, p.clientWidth, getComputedStyle(p).overflowX]")
    assert table[0] > table[1] and table[2] == "auto", f"the open orders scroll inside their pane: {table}"
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await tablist.scroll_into_view_if_needed()
    await screenshot(page, "phone-open-orders")

    await page.get_by_role("tab", name="Portfolio").scroll_into_view_if_needed()
    await page.get_by_role("tab", name="Portfolio").click()
    await expect(page.get_by_label("Total equity (USDT)")).not_to_have_text("—")
    await expect(page.get_by_role("list", name="Allocation").get_by_role("listitem").first).to_be_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await page.get_by_role("tab", name="Portfolio").scroll_into_view_if_needed()
    await screenshot(page, "phone-portfolio")
    await page.get_by_role("button", name="Notifications, none unread").click()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    for path in ("/account", "/login"):
        await page.goto(path)
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390, path


async def test_offline_disables_actions_and_reconnecting_clears_the_outages_errors(
        new_context: NewContext, server_process: ServerProcess) -> None:
    """Last in the module: it restarts the server."""
    page = await (await new_context(outage=True)).new_page()
    email = await register(page)
    token = await token_of(page, email)
    resting = await place(page, token, side="BUY", type="LIMIT", quantity="0.01",
                          price=str(await off_market(page, "0.5")), timeInForce="GTC")
    cancel = page.get_by_role("button", name=f"Cancel order {resting['orderId']}")
    await expect(cancel).to_be_enabled()

    # A request lost on the way shows its error; the outage that follows must not leave it behind.
    await page.route("**/api/trading/orders", lambda route: route.abort("connectionrefused"))
    await page.get_by_label("Amount", exact=True).fill("0.001")
    await page.get_by_role("button", name="Buy BTC").click()
    error = page.get_by_role("alert").filter(has_text="cannot be reached")
    await expect(error).to_be_visible()
    await page.unroute("**/api/trading/orders")

    server_process.kill()
    await expect(page.get_by_role("status").filter(has_text="Offline")).to_be_visible()
    reason = page.get_by_role("status").filter(has_text="Disconnected from the server")
    await expect(reason).to_be_visible()
    for button in (page.get_by_role("button", name="Buy BTC"), cancel):
        await expect(button).to_be_disabled()
    await page.get_by_role("tab", name="CFD", exact=True).click()
    await expect(page.get_by_role("button", name="Open long")).to_be_disabled()
    await expect(page.get_by_role("button", name="Transfer")).to_be_disabled()
    await page.get_by_role("tab", name="Spot", exact=True).click()
    await expect(page.get_by_role("status").filter(has_text="Prices stale: disconnected")).to_be_visible()
    await screenshot(page, "offline")

    started = time.monotonic()
    await asyncio.get_running_loop().run_in_executor(None, server_process.start)
    await expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible(timeout=30_000)
    assert time.monotonic() - started < 90
    await expect(reason).to_be_hidden()
    await expect(error).to_be_hidden()
    await expect(page.get_by_role("button", name="Buy BTC")).to_be_enabled()
    await expect(page.get_by_role("button", name=f"Cancel order {resting['orderId']}")).to_be_enabled()
    await expect(page.get_by_role("status").filter(has_text="Prices stale")).to_be_hidden()
    await page.get_by_role("button", name="Buy BTC").click()
    await expect(page.get_by_role("status").filter(has_text="filled at")).to_be_visible()
