"""The terminal's market panels in a real browser against a real server: the order book (levels equal
to /api/market/depth, live, a click or Enter sets the limit price), the trade tape and the book after a
market buy, the watchlist and its search, and the chart's OHLC readout and MA/EMA overlays (their values
recomputed here with Decimal), with screenshots at desktop and phone width."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, localcontext
from typing import Any

import pytest
from playwright.async_api import Page, expect

from app.money import to_str
from tests.e2e.conftest import NewContext, screenshot
from tests.e2e.test_terminal import register
from tests.support.helpers import PASSWORD, ServerProcess

MA_COLOUR = (240, 185, 11)  # static/js/chart.js OVERLAY_COLOURS

# One synchronous read of the book as drawn: its update id, both sides and the spread.
READ_BOOK = """() => {
  const side = (name) => [...document.querySelectorAll(`[role="group"][aria-label="${name}"] .level:not([hidden])`)]
    .map((b) => [b.dataset.price, b.dataset.qty, b.dataset.total, b.textContent]);
  const book = document.querySelector('[aria-labelledby="book-heading"]');
  return { id: Number(book.dataset.updateId), bids: side('Bids'), asks: side('Asks'),
           spread: book.querySelector('[aria-label="Spread"]').dataset.value,
           bps: book.querySelector('[aria-label="Spread in basis points"]').textContent };
}"""

# The price of the level a click lands on, as the click is dispatched (the book moves every tick).
NOTE_PICKED = """() => document.querySelector('[aria-labelledby="book-heading"]').addEventListener('click',
  (e) => { window.picked = e.target.closest('.level').dataset.price; }, { capture: true, once: true })"""

# book.js itself on a detached panel: a newer book, then an older one (stale: dropped), then a reset
# (a reconnect) after which a lower id is the current book. Each step's drawn best bid and update id.
STALE_FRAMES = """async () => {
  const { OrderBook } = await import('/static/js/book.js');
  const root = document.createElement('section');
  for (const cls of ['book-asks', 'spread-abs', 'spread-bps', 'book-bids']) {
    const el = document.createElement('div');
    el.className = cls;
    root.append(el);
  }
  const book = new OrderBook({ root, spec: { base: 'BTC', quote: 'USDT', tickSize: '0.01', stepSize: '0.001' },
                               onPick: () => {} });
  const frame = () => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  const seen = () => [root.dataset.updateId, root.querySelector('.book-bids .level').dataset.price];
  const steps = [];
  book.apply({ lastUpdateId: 10, bids: [['100', '1']], asks: [['101', '2']] });
  await frame();
  steps.push(seen());
  book.apply({ U: 8, u: 9, bids: [['99', '5']], asks: [['102', '1']] });
  await frame();
  steps.push(seen());
  book.reset();
  book.apply({ U: 3, u: 3, bids: [['98', '1']], asks: [['103', '1']] });
  await frame();
  steps.push(seen());
  return steps;
}"""

READ_WATCHLIST = """() => Object.fromEntries([...document.querySelectorAll('[aria-label="Markets"] a[data-symbol]')]
  .map((a) => [a.dataset.symbol, ['.wl-price', '.wl-change'].map((c) => a.querySelector(c).dataset.value)]))"""

COUNT_PIXELS = """([r, g, b]) => {
  let n = 0;
  for (const canvas of document.querySelectorAll('#chart canvas')) {
    if (!canvas.width || !canvas.height) continue;
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < data.length; i += 4) if (data[i] === r && data[i + 1] === g && data[i + 2] === b) n++;
  }
  return n;
}"""

# indicators.js evaluated in the page on the closes given.
INDICATORS_IN_PAGE = """async ([closes, period]) => {
  const m = await import('/static/js/indicators.js');
  const text = (values) => values.map((v) => v && v.toFixed());
  return { ma: text(m.sma(closes, period)), ema: text(m.ema(closes, period)) };
}"""


@pytest.fixture(scope="module")
def server_env() -> dict[str, str]:
    """Taken liquidity stays taken for an hour and the walk moves every 2 s, so a fill's mark on the book
    can be measured."""
    return {"BOOK_REFILL_MS": "3600000", "TICK_INTERVAL_MS": "2000"}


def book(page: Page) -> Any:
    return page.get_by_role("region", name="Order book", exact=True)


def levels(page: Page, side: str) -> Any:
    return book(page).get_by_role("group", name=side).get_by_role("button")


async def matched_book(page: Page) -> tuple[dict[str, Any], dict[str, Any]]:
    """The page's book and /api/market/depth at the same update id (polled: both move every tick)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        api = await (await page.request.get("/api/market/depth?symbol=BTCUSDT&limit=20")).json()
        drawn = await page.evaluate(READ_BOOK)
        if drawn["id"] == api["lastUpdateId"]:
            return drawn, api
    raise AssertionError("the page's book never showed the API's update id")


async def polled(read: Callable[[], Awaitable[Any]], ok: Callable[[Any], bool], what: str,
                 within_s: float = 10) -> Any:
    """`read()` again until `ok` holds of its value: a condition, not an event, to wait for."""
    deadline = time.monotonic() + within_s
    while True:
        value = await read()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still {value!r}")
        await asyncio.sleep(0.05)


def cumulative(side: list[list[str]]) -> list[str]:
    totals, running = [], Decimal(0)
    for _, qty in side:
        running += Decimal(qty)
        totals.append(to_str(running))
    return totals


def as_pct(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), ROUND_HALF_EVEN))


def sma_ema(closes: list[Decimal], period: int) -> tuple[list[str | None], list[str | None]]:
    """indicators.js's rule in Decimal: each division and EMA step rounded to 20 places, half-up."""
    step = Decimal(1).scaleb(-20)
    ma: list[str | None] = [None] * len(closes)
    ema: list[str | None] = [None] * len(closes)
    with localcontext() as ctx:
        ctx.prec = 100
        alpha = (Decimal(2) / (period + 1)).quantize(step, ROUND_HALF_UP)
        prev = None
        for i in range(period - 1, len(closes)):
            ma_i = (sum(closes[i - period + 1:i + 1], Decimal(0)) / period).quantize(step, ROUND_HALF_UP)
            ma[i] = to_str(ma_i)
            prev = ma_i if prev is None else (prev + alpha * (closes[i] - prev)).quantize(step, ROUND_HALF_UP)
            ema[i] = to_str(prev)
    return ma, ema


async def test_the_book_matches_the_depth_updates_live_and_sets_the_price(new_context: NewContext) -> None:
    page = await (await new_context(color_scheme="dark")).new_page()
    await register(page)
    await expect(levels(page, "Bids")).to_have_count(20)
    await expect(levels(page, "Asks")).to_have_count(20)

    drawn, api = await matched_book(page)
    for side in ("bids", "asks"):
        assert [[p, q] for p, q, _, _ in drawn[side]] == api[side], f"{side} differ from /api/market/depth"
        assert [t for _, _, t, _ in drawn[side]] == cumulative(api[side])
    bid, ask = Decimal(api["bids"][0][0]), Decimal(api["asks"][0][0])
    assert Decimal(drawn["spread"]) == ask - bid
    assert drawn["bps"] == f"{as_pct((ask - bid) / ((ask + bid) / 2) * 10000)} bps"
    size = f"{Decimal(api['bids'][0][1]):.5f} BTC"
    assert drawn["bids"][0][3] == f"Bid {bid:,.2f} USDT, {size} ({size} to here): use as the limit price"

    assert await page.evaluate(STALE_FRAMES) == [["10", "100"], ["10", "100"], ["3", "98"]]

    # Live: the book moves on by update id without a reload.
    await expect(book(page)).not_to_have_attribute("data-update-id", str(drawn["id"]))

    # A click on a level: a Limit order at that price, which then no longer follows the market.
    await page.evaluate(NOTE_PICKED)
    await levels(page, "Bids").nth(2).click()
    price = await page.evaluate("window.picked")
    await expect(page.get_by_label("Limit", exact=True)).to_be_checked()
    price_box = page.get_by_label("Price (USDT)", exact=True)
    await expect(price_box).to_have_value(price or "")
    moved = await book(page).get_attribute("data-update-id")
    await expect(book(page)).not_to_have_attribute("data-update-id", moved or "")
    await expect(price_box).to_have_value(price or "")

    # The keyboard: one tab stop, arrows walk the levels as they are seen (the best ask sits above
    # the best bid), Enter picks.
    await levels(page, "Asks").first.focus()
    await page.keyboard.press("ArrowDown")
    await expect(levels(page, "Bids").first).to_be_focused()
    await page.evaluate(NOTE_PICKED)
    await page.keyboard.press("Enter")
    picked = await page.evaluate("window.picked")
    await expect(price_box).to_have_value(picked or "")
    assert await page.evaluate("document.querySelectorAll('.level[tabindex=\"0\"]').length") == 1


async def test_a_market_buy_prints_on_the_tape_and_takes_from_the_asks(new_context: NewContext) -> None:
    page = await (await new_context(color_scheme="dark")).new_page()
    await register(page)
    tape = page.get_by_role("table", name="Trades")
    await expect(tape.locator("tbody tr")).not_to_have_count(0)
    assert await tape.locator("tbody tr").count() <= 50
    await page.get_by_role("tab", name="Order history").click()

    async def asks_total() -> Decimal:
        """The 20 ask levels' sum as drawn."""
        return Decimal(await levels(page, "Asks").nth(19).get_attribute("data-total") or "0")

    # A fill is folded into the book unless the quote moved above its price first (then the market
    # no longer offers what it took: docs/architecture.md, the market model). The walk moves every
    # 2 s in this module, so that is rare; a buy is repeated (at most twice) only when it happens.
    for _attempt in range(3):
        await matched_book(page)
        before = await asks_total()
        await page.get_by_label("Amount", exact=True).fill("0.02")
        await page.get_by_role("button", name="Buy BTC").click()
        row = page.get_by_role("table", name="Order history").locator("tbody tr").first
        await expect(row.locator("td.status")).to_have_attribute("data-status", "FILLED")
        order_id = await row.get_attribute("data-order-id")
        order = await (await page.request.get(f"/api/trading/orders/{order_id}")).json()
        assert order["executedQty"] == "0.02"

        # The print: on the tape as a buy (arrow and word, not colour alone), at the fill's price and size.
        fill = tape.locator(f'tbody tr[data-side="BUY"][data-price="{order["avgPrice"]}"][data-qty="0.02"]')
        await expect(fill.first).to_contain_text("▲")
        await expect(fill.first.locator(".sr-only")).to_have_text("Buy ")
        prints = (await (await page.request.get("/api/market/trades?symbol=BTCUSDT&limit=50")).json())["trades"]
        assert any(p["price"] == order["avgPrice"] and p["qty"] == "0.02" and not p["isBuyerMaker"] for p in prints)

        # The ask side is 0.02 BTC thinner: the refill (a level size, 0.4 BTC, per hour in this module)
        # gives back a step (0.00001 BTC) every 90 ms.
        try:
            thinner = await polled(asks_total, lambda total, floor=before: total < floor - Decimal("0.015"),
                                   "the asks", 3)
        except AssertionError:
            continue
        assert thinner >= before - Decimal("0.02")
        break
    else:
        raise AssertionError("no buy of three was folded into the book")
    drawn, api = await matched_book(page)
    assert [[p, q] for p, q, _, _ in drawn["asks"]] == api["asks"]
    await screenshot(page, "terminal-market-desktop")


async def test_the_watchlist_is_live_filters_and_navigates(new_context: NewContext) -> None:
    page = await (await new_context()).new_page()
    await register(page)
    markets = page.get_by_role("navigation", name="Markets")
    symbols = [s["symbol"] for s in (await (await page.request.get("/api/market/symbols")).json())["symbols"]]
    assert len(symbols) > 1
    for symbol in symbols:
        await expect(markets.get_by_role("link", name=symbol)).not_to_contain_text("—")
    tickers = {t["symbol"]: t for t in (await (await page.request.get("/api/market/ticker")).json())["tickers"]}
    shown = await page.evaluate(READ_WATCHLIST)  # one read: prices and changes of the same moment
    for symbol in symbols:
        price, change = shown[symbol]
        opened = Decimal(tickers[symbol]["open24h"])
        with localcontext() as ctx:
            ctx.prec = 60
            assert change == as_pct((Decimal(price) - opened) / opened * 100)
    btc_price = markets.get_by_role("link", name="BTCUSDT").locator(".wl-price")
    await expect(btc_price).not_to_have_attribute("data-value", await btc_price.get_attribute("data-value") or "")

    await page.keyboard.press("/")
    search = page.get_by_role("searchbox", name="Search markets")
    await expect(search).to_be_focused()
    await page.keyboard.type("eth")
    await expect(markets.get_by_role("link")).to_have_count(1)
    await expect(markets.get_by_role("link", name="ETHUSDT")).to_be_visible()
    await search.fill("nothing")
    await expect(markets.get_by_text("No market matches")).to_be_visible()
    await search.fill("")
    await expect(markets.get_by_role("link")).to_have_count(len(symbols))
    await page.keyboard.type("so")
    await page.keyboard.press("Enter")
    await expect(page).to_have_url(f"{page.url.split('/trade/')[0]}/trade/SOLUSDT")
    await expect(page.get_by_role("button", name="Buy SOL")).to_be_visible()
    await expect(levels(page, "Asks")).to_have_count(20)


async def test_the_ohlc_readout_and_the_moving_averages(new_context: NewContext) -> None:
    page = await (await new_context(color_scheme="dark")).new_page()
    await register(page)
    await page.get_by_role("button", name="1h", exact=True).click()  # a window that shifts hourly, not each minute
    chart = page.get_by_role("img", name="BTCUSDT candlestick chart with volume")
    await expect(chart).to_have_attribute("data-interval", "1h")
    assert await page.evaluate(COUNT_PIXELS, list(MA_COLOUR)) == 0

    await page.get_by_role("button", name="Show the MA overlay").click()
    await expect(chart).to_have_attribute("data-series", "3")  # candles, volume, MA
    await page.get_by_role("button", name="Show the EMA overlay").click()
    await expect(chart).to_have_attribute("data-series", "4")
    await expect(chart).to_have_attribute("data-overlays", "MA 20,EMA 50")
    await page.get_by_label("EMA period").select_option("21")
    await expect(chart).to_have_attribute("data-overlays", "MA 20,EMA 21")
    await expect(chart).to_have_attribute("data-series", "4")
    await polled(lambda: page.evaluate(COUNT_PIXELS, list(MA_COLOUR)), lambda n: n > 20, "MA pixels")

    box = await chart.bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    readout = page.get_by_label("Candle under the crosshair")
    await expect(readout).not_to_have_attribute("data-time", "")
    hovered = int(await readout.get_attribute("data-time") or "0")
    api = await page.request.get("/api/market/candles?symbol=BTCUSDT&interval=1h&limit=500")
    candles = (await api.json())["candles"]
    candle = next(c for c in candles if c["t"] == hovered)
    assert hovered != candles[-1]["t"], "the middle of the chart is a closed candle"
    values = {label: await readout.get_by_label(label, exact=True).get_attribute("data-value")
              for label in ("Open", "High", "Low", "Close", "Volume", "Change", "MA 20", "EMA 21")}
    assert [values[k] for k in ("Open", "High", "Low", "Close", "Volume")] == [candle[k] for k in "ohlcv"]
    assert values["Change"] == to_str(Decimal(candle["c"]) - Decimal(candle["o"]))
    await expect(readout.get_by_label("Open", exact=True)).to_have_text(f"{Decimal(candle['o']):,.2f}")

    # The overlays' values, recomputed in Decimal over the candles the chart loaded (500 hourly ones).
    closes = [Decimal(c["c"]) for c in candles]
    i = next(k for k, c in enumerate(candles) if c["t"] == hovered)
    assert values["MA 20"] == sma_ema(closes, 20)[0][i]
    assert values["EMA 21"] == sma_ema(closes, 21)[1][i]
    # indicators.js itself, evaluated in the page over the whole series.
    in_page = await page.evaluate(INDICATORS_IN_PAGE, [[c["c"] for c in candles], 50])
    assert (in_page["ma"], in_page["ema"]) == sma_ema(closes, 50)

    await page.get_by_role("button", name="Hide the MA overlay").click()
    await expect(chart).to_have_attribute("data-series", "3")
    await polled(lambda: page.evaluate(COUNT_PIXELS, list(MA_COLOUR)), lambda n: n == 0, "MA pixels")
    await page.reload()  # the choice is kept
    await expect(chart).to_have_attribute("data-overlays", "EMA 21")


async def test_the_market_panels_fit_desktop_and_phone(new_context: NewContext) -> None:
    page = await (await new_context(color_scheme="dark")).new_page()
    await register(page)
    await expect(levels(page, "Asks")).to_have_count(20)
    chart = await page.get_by_role("region", name="BTCUSDT chart").bounding_box()
    panel = await page.get_by_role("region", name="Order book and trades").bounding_box()
    side = await page.get_by_role("complementary", name="Order entry and balances").bounding_box()
    assert chart and panel and side
    assert panel["x"] >= chart["x"] + chart["width"] - 1 and panel["x"] + panel["width"] <= side["x"]
    assert side["width"] == 320, "the order form keeps its width"
    assert panel["y"] + panel["height"] <= 720
    await page.get_by_role("button", name="Show the MA overlay").click()
    await expect(page.get_by_role("table", name="Trades").locator("tbody tr")).not_to_have_count(0)
    await screenshot(page, "terminal-market-book-tape-chart")

    phone = await (await new_context(viewport={"width": 390, "height": 844}, color_scheme="dark")).new_page()
    await register(phone)
    await expect(levels(phone, "Bids")).to_have_count(20)
    assert await phone.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scrolling"
    for name in ("Order book", "Trades"):
        box = await phone.get_by_role("region", name=name, exact=True).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390
    await phone.get_by_role("region", name="Order book", exact=True).scroll_into_view_if_needed()
    await expect(phone.get_by_role("table", name="Trades").locator("tbody tr")).not_to_have_count(0)
    await screenshot(phone, "terminal-market-phone")


async def test_the_book_and_tape_resume_after_a_restart(new_context: NewContext,
                                                        server_process: ServerProcess) -> None:
    """Killed and restarted: the page's book is the server's again (by update id) and the tape has the
    print of an order filled while the page was still reconnecting (the tape is reloaded, not merged)."""
    page = await (await new_context(outage=True)).new_page()
    email = await register(page)
    login = await page.request.post("/auth/login", data={"email": email, "password": PASSWORD})
    bearer = {"Authorization": f"Bearer {(await login.json())['token']}"}
    await expect(levels(page, "Bids")).to_have_count(20)

    server_process.kill()
    await expect(page.get_by_role("status").filter(has_text="Offline")).to_be_visible()
    await asyncio.get_running_loop().run_in_executor(None, server_process.start)
    placed = await page.request.post("/api/trading/orders", headers=bearer, data={
        "symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.01"})
    assert placed.status == 202, await placed.text()
    order_id = (await placed.json())["orderId"]

    async def order() -> dict[str, Any]:
        return dict(await (await page.request.get(f"/api/trading/orders/{order_id}", headers=bearer)).json())
    filled = await polled(order, lambda o: o["status"] == "FILLED", "the order")

    await expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible(timeout=30_000)
    drawn, api = await matched_book(page)
    assert [[p, q] for p, q, _, _ in drawn["bids"]] == api["bids"]
    tape = page.get_by_role("table", name="Trades")
    fill = tape.locator(f'tbody tr[data-side="SELL"][data-price="{filled["avgPrice"]}"][data-qty="0.01"]')
    await expect(fill.first).to_contain_text("▼")
