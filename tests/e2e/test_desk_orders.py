"""The terminal's orders in a real browser against a real server: the chart's price lines and dragging them
to amend, the amount presets, post-only, the confirmation threshold, cancel-all, the order history's
filters and paging, and the fills tab."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import NewContext, screenshot
from tests.e2e.test_terminal import amount_of, free, off_market, register

# The page's own fetch with its CSRF token: what the terminal itself sends, for setting up a scene quickly.
API = """async ([method, path, body]) => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const r = await fetch(path, { method, credentials: 'same-origin', headers: { 'Content-Type': 'application/json',
    'X-CSRF-Token': csrf }, body: body === null ? undefined : JSON.stringify(body) });
  return { status: r.status, body: await r.json() };
}"""


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    return {"ORDER_RATE_PER_S": "1000"}


async def api(page: Page, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = await page.evaluate(API, [method, path, body])
    assert answer["status"] < 300, answer
    return dict(answer["body"])


def chart_lines(page: Page) -> Any:
    return page.get_by_role("list", name="Chart lines").get_by_role("listitem")


async def open_orders(page: Page) -> list[dict[str, Any]]:
    return list((await api(page, "GET", "/api/trading/orders?status=OPEN&symbol=BTCUSDT"))["orders"])


async def drag_line(page: Page, key: str, to_price: Decimal) -> None:
    """Press on the line, move it to the height of `to_price` in small steps, release. The price scale
    follows the live market, so a press that a rescale made miss the line is measured and tried again."""
    chart = page.locator("#chart")
    box = await chart.bounding_box()
    assert box is not None
    x = box["x"] + box["width"] * 0.4
    where = "(k) => document.getElementById('chart').chartLines.coordinateOf(k)"
    for _ in range(5):
        start = await page.evaluate(where, key)
        assert start is not None and 0 < start < box["height"], start
        await page.mouse.move(x, box["y"] + start)
        await page.mouse.down()
        if await chart.get_attribute("data-dragging") == key:
            break
        await page.mouse.up()
    else:
        raise AssertionError(f"could not grab the line {key}")
    end = await page.evaluate(where, str(to_price))
    assert end is not None and 0 < end < box["height"], end
    await page.mouse.move(x, box["y"] + end, steps=8)
    await page.mouse.up()


def plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def near(price: str, target: Decimal) -> bool:
    """Within 1 % of the target: a pixel of the chart is worth a few ticks."""
    return abs(Decimal(price) - target) <= target / 100


async def test_lines_for_orders_and_a_cfd_position_and_dragging_them_amends(new_context: NewContext) -> None:
    page = await (await new_context(color_scheme="dark")).new_page()
    await register(page)
    limit_price, stop, take = await off_market(page, "0.97"), await off_market(page, "0.92"), await off_market(
        page, "1.08")
    limit = await api(page, "POST", "/api/trading/orders", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                             "quantity": "0.01", "price": str(limit_price)})
    await api(page, "POST", "/api/trading/orders", {"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_LOSS",
                                                     "quantity": "0.01", "stopPrice": str(stop)})
    oco = await api(page, "POST", "/api/trading/orderList/oco", {"symbol": "BTCUSDT", "side": "SELL",
                                                                 "quantity": "0.01", "price": str(take),
                                                                 "stopPrice": str(stop)})
    opened = await api(page, "POST", "/api/cfd/positions", {
        "symbol": "BTCUSDT", "direction": "LONG", "margin": "100", "leverage": "10",
        "stopLossPrice": str(await off_market(page, "0.95")), "takeProfitPrice": str(await off_market(page, "1.05"))})
    position_id = opened["position"]["id"]

    lines = chart_lines(page)
    await expect(lines.filter(has_text=f"Buy 0.01 limit: {plain(limit_price)}")).to_have_count(1)
    await expect(lines.filter(has_text="Sell 0.01 stop trigger").filter(has_not_text="OCO")).to_have_count(1)
    await expect(lines.filter(has_text=f"OCO #{oco['orderListId']} ")).to_have_count(2)
    for what in ("entry", "stop-loss", "take-profit", "liquidation"):
        await expect(lines.filter(has_text=f"Long #{position_id} {what}")).to_have_count(1)
    await screenshot(page, "desk-chart-lines")

    # Dragging the limit line amends the order: one open limit order, at the price dropped on.
    target = await off_market(page, "0.99")
    await drag_line(page, f"order:{limit['orderId']}:limit", target)
    await expect(page.get_by_role("status").filter(has_text=f"Order {limit['orderId']} moving to")).to_be_visible()
    moved = lines.filter(has_text="Buy 0.01 limit")
    await expect(moved).to_have_count(1)
    await expect(moved).not_to_have_attribute("data-key", f"order:{limit['orderId']}:limit")
    limits = [o for o in await open_orders(page) if o["type"] == "LIMIT"]
    assert len(limits) == 1 and limits[0]["orderId"] != limit["orderId"] and near(limits[0]["price"], target), limits
    old = await api(page, "GET", f"/api/trading/orders/{limit['orderId']}")
    assert old["status"] == "CANCELED"
    assert await moved.get_attribute("data-price") == limits[0]["price"]

    # Dragging the CFD stop-loss line amends the position's stop-loss.
    sl_target = await off_market(page, "0.93")
    await drag_line(page, f"cfd:{position_id}:sl", sl_target)
    stop_line = lines.filter(has_text=f"Long #{position_id} stop-loss")
    await expect(stop_line).not_to_have_attribute("data-price", opened["position"]["stopLossPrice"])
    position = await api(page, "GET", f"/api/cfd/positions/{position_id}")
    assert near(position["stopLossPrice"], sl_target), position
    assert await stop_line.get_attribute("data-price") == position["stopLossPrice"]
    await screenshot(page, "desk-chart-lines-amended")


async def test_presets_post_only_confirmation_and_cancel_all(new_context: NewContext) -> None:
    page = await (await new_context()).new_page()
    await register(page)
    step = Decimal(await page.locator("#terminal").get_attribute("data-step-size") or "")
    amount = page.get_by_label("Amount", exact=True)

    # Sell 50 %: half the free BTC, rounded down to the step.
    await page.get_by_label("Sell", exact=True).check()
    await page.get_by_label("Limit", exact=True).check()
    await page.get_by_role("button", name="50 % of available").click()
    btc = await amount_of(free(page, "BTC"))
    assert Decimal(await amount.input_value()) == (btc / 2).quantize(step, ROUND_DOWN)
    await expect(page.locator("#pct-hint")).to_contain_text("rounded down")

    # Buy 25 % at a typed limit price: a quarter of the free USDT over the price, rounded down.
    await page.get_by_label("Buy", exact=True).check()
    price = await off_market(page, "0.9")
    await page.get_by_label("Price (USDT)", exact=True).fill(str(price))
    await page.get_by_role("button", name="25 % of available").click()
    usdt = await amount_of(free(page, "USDT"))
    assert Decimal(await amount.input_value()) == (usdt / 4 / price).quantize(step, ROUND_DOWN)

    # Post-only that would take is rejected, saying so.
    await page.get_by_label("Price (USDT)", exact=True).fill(str(await off_market(page, "1.05")))
    await page.get_by_label("Post-only (rejected if it would take liquidity)").check()
    await expect(page.get_by_label("Time in force")).to_be_hidden()
    await amount.fill("0.001")
    await page.get_by_role("button", name="Buy BTC").click()
    await expect(page.get_by_role("status").filter(has_text="would immediately match and take")).to_be_visible()
    await page.get_by_label("Post-only (rejected if it would take liquidity)").uncheck()

    # Above the threshold the order asks first; "Don't place" sends nothing, "Place order" places it.
    await page.get_by_label("Confirm orders above (USDT)").fill("10")
    await page.get_by_label("Confirm orders above (USDT)").press("Tab")
    await page.get_by_label("Price (USDT)", exact=True).fill(str(price))
    await amount.fill("0.01")
    await page.get_by_role("button", name="Buy BTC").click()
    dialog = page.get_by_role("dialog", name="Confirm the order")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("above your confirmation threshold of 10 USDT")
    await dialog.get_by_role("button", name="Don't place").click()
    await expect(dialog).to_be_hidden()
    assert await open_orders(page) == []
    await page.get_by_role("button", name="Buy BTC").click()
    await dialog.get_by_role("button", name="Place order").click()
    rows = page.get_by_role("table", name="Open orders").locator("tbody tr")
    await expect(rows).to_have_count(1)
    await page.reload()
    await expect(page.get_by_label("Confirm orders above (USDT)")).to_have_value("10")

    # Cancel-all for the symbol cancels every open order of it.
    await api(page, "POST", "/api/trading/orders", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                     "quantity": "0.01", "price": str(await off_market(page, "0.8"))})
    await expect(rows).to_have_count(2)
    await page.get_by_role("button", name="Cancel all BTCUSDT").click()
    await expect(page.get_by_text("No open orders.")).to_be_visible()
    assert await open_orders(page) == []


async def test_history_filters_and_pages_and_the_fills_tab_matches_the_api(new_context: NewContext) -> None:
    page = await (await new_context()).new_page()
    await register(page)
    above = str(await off_market(page, "1.1"))
    oco = await api(page, "POST", "/api/trading/orderList/oco", {  # the oldest: open, so live on the page too
        "symbol": "BTCUSDT", "side": "SELL", "quantity": "0.01", "price": str(await off_market(page, "1.2")),
        "stopPrice": str(await off_market(page, "0.8"))})
    for _ in range(56):  # post-only buys above the market: rejected at once, so nothing stays open
        await api(page, "POST", "/api/trading/orders", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT_MAKER",
                                                         "quantity": "0.001", "price": above})
    for side in ("BUY", "SELL", "BUY"):
        await api(page, "POST", "/api/trading/orders", {"symbol": "BTCUSDT", "side": side, "type": "MARKET",
                                                         "quantity": "0.001"})
    total = 61
    await page.reload()
    await page.get_by_role("tab", name="Order history").click()
    history = page.get_by_role("table", name="Order history").locator("tbody tr")
    await expect(history).to_have_count(52)  # the snapshot's recent orders, and the open ones
    legs = page.get_by_role("table", name="Order history").locator(f'tr[data-list-id="{oco["orderListId"]}"]')
    await expect(legs).to_have_count(2)
    await expect(legs.first).to_contain_text(f"OCO #{oco['orderListId']}")
    assert await page.evaluate("""(list) => {
      const rows = [...document.querySelectorAll('#order-history tbody tr')];
      const at = rows.map((r, i) => (r.dataset.listId === String(list) ? i : -1)).filter((i) => i >= 0);
      return at.length === 2 && at[1] === at[0] + 1;
    }""", oco["orderListId"]), "the legs of one list are next to each other"
    await page.get_by_role("button", name="Load older orders").click()
    await expect(history).to_have_count(total)
    await expect(page.get_by_role("button", name="No older orders")).to_be_disabled()

    await page.get_by_label("Side").select_option("SELL")
    await page.get_by_role("button", name="Apply").click()
    await expect(history).to_have_count(3)  # the market sell and the OCO's two legs
    for i in range(3):
        await expect(history.nth(i)).to_contain_text("Sell")
    await page.get_by_label("Side").select_option("")
    await page.get_by_label("Status").select_option("FILLED")
    await page.get_by_role("button", name="Apply").click()
    await expect(history).to_have_count(3)
    await page.get_by_label("Status").select_option("REJECTED")
    await page.get_by_label("From (UTC)").fill("2000-01-01")
    await page.get_by_label("To (UTC)").fill("2000-01-02")
    await page.get_by_role("button", name="Apply").click()
    await expect(history).to_have_count(0)
    await expect(page.get_by_role("link", name="Export CSV").first).to_have_attribute(
        "href", "/api/trading/orders.csv?from=946684800000&to=946857600000")

    await page.get_by_role("tab", name="Fills").click()
    fills = (await api(page, "GET", "/api/trading/fills?limit=50"))["fills"]
    rows = page.get_by_role("table", name="Fills").locator("tbody tr")
    await expect(rows).to_have_count(len(fills))
    assert len(fills) >= 3
    for i, f in enumerate(fills):
        await expect(rows.nth(i)).to_have_attribute("data-fill-id", str(f["id"]))
        await expect(rows.nth(i).locator("td.price")).to_have_attribute("data-value", f["price"])
        await expect(rows.nth(i).locator("td.qty")).to_have_attribute("data-value", f["qty"])
    csv = await page.request.get("/api/trading/fills.csv")
    assert csv.status == 200 and (await csv.text()).count("\n") >= len(fills)


async def test_edit_price_from_the_open_orders_row_amends_by_keyboard(new_context: NewContext) -> None:
    page = await (await new_context()).new_page()
    await register(page)
    placed = await api(page, "POST", "/api/trading/orders", {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                              "quantity": "0.01", "price": str(await off_market(
                                                                  page, "0.8"))})
    edit = page.get_by_role("button", name=f"Edit price of order {placed['orderId']}")
    await edit.focus()
    await page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name=f"Edit price of order {placed['orderId']}")
    await expect(dialog).to_be_visible()
    new_price = await off_market(page, "0.7")
    await dialog.get_by_label("New price (USDT)").fill(str(new_price))
    await dialog.get_by_label("New price (USDT)").press("Enter")
    rows = page.get_by_role("table", name="Open orders").locator("tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.first).not_to_have_attribute("data-order-id", str(placed["orderId"]))
    await expect(rows.first).to_contain_text(plain(new_price))
    orders = await open_orders(page)
    assert [o["price"] for o in orders] == [plain(new_price)]
