"""Every page through axe-core (node_modules/axe-core, pinned in package.json) in Chromium: no serious or
critical WCAG 2.2 AA violation on the login, register, terminal (dark and light), account, docs,
problem-type and not-found pages; the skip link is the first thing Tab reaches, visible, and lands in
the order form."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Page, expect

from tests.e2e.conftest import NewContext
from tests.e2e.test_terminal import register

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
RUN_AXE = """async (tags) => {
  const options = { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] };
  const result = await window.axe.run(document, options);
  return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({ target: n.target.join(" "), summary: n.failureSummary })),
  }));
}"""


async def axe_context(new_context: NewContext, **options: Any) -> BrowserContext:
    """A context whose every page has axe-core loaded before its own scripts (through the browser's
    protocol, which the site's CSP does not govern)."""
    ctx = await new_context(**options)
    await ctx.add_init_script(path=str(AXE))
    return ctx


def readable(page: str, violations: list[dict[str, Any]]) -> str:
    lines = [f"{page}: {len(violations)} serious/critical accessibility violation(s)"]
    for v in violations:
        lines.append(f"  [{v['impact']}] {v['id']}: {v['help']}")
        for n in v["nodes"]:
            summary = n["summary"].replace("\n", "\n        ")
            lines.append(f"      {n['target']}\n        {summary}")
    return "\n".join(lines)


async def check(page: Page, name: str, failures: list[str]) -> None:
    violations = await page.evaluate(RUN_AXE, TAGS)
    if violations:
        failures.append(readable(name, violations))


async def test_every_page_has_no_serious_accessibility_violation(new_context: NewContext) -> None:
    assert AXE.exists(), "axe-core is missing: run `make setup` (npm ci)"
    failures: list[str] = []
    ctx = await axe_context(new_context, color_scheme="dark")
    page = await ctx.new_page()
    for path, name in [("/login", "login"), ("/register", "register"), ("/problems/INSUFFICIENT_BALANCE", "problem"),
                       ("/problems", "problem index"), ("/docs", "docs")]:
        await page.goto(path)
        if name == "docs":
            await expect(page.get_by_text("Place an order")).to_be_visible()
        await check(page, name, failures)

    await register(page)
    await expect(page.get_by_label("Last price")).not_to_have_text("—")
    await check(page, "terminal (dark)", failures)
    await page.get_by_role("tab", name="Portfolio").click()
    await expect(page.get_by_label("Total equity (USDT)")).not_to_have_text("—")
    await check(page, "terminal portfolio (dark)", failures)
    await page.get_by_role("button", name="Switch to light theme").click()
    await expect(page.locator("html")).to_have_attribute("data-theme", "light")
    await check(page, "terminal portfolio (light)", failures)
    await page.get_by_role("tab", name="Open orders").click()
    await page.get_by_role("button", name="Notifications, none unread").click()
    await check(page, "terminal with notifications (light)", failures)
    await page.goto("/account")
    await expect(page.get_by_role("heading", name="Start over")).to_be_visible()
    await check(page, "account (light)", failures)
    await page.get_by_role("button", name="Switch to dark theme").click()
    await check(page, "account (dark)", failures)
    await page.goto("/trade/NOSUCHUSDT")
    await expect(page.get_by_text("There is no market called NOSUCHUSDT.")).to_be_visible()
    await check(page, "not found (dark)", failures)
    assert not failures, "\n\n".join(failures)


async def test_the_skip_link_is_first_visible_on_focus_and_lands_in_the_order_form(new_context: NewContext) -> None:
    page = await (await new_context()).new_page()
    await register(page)
    skip = page.get_by_role("link", name="Skip to the order form")
    await expect(skip).not_to_be_in_viewport()
    await page.evaluate("document.activeElement?.blur()")
    await page.keyboard.press("Tab")
    await expect(skip).to_be_focused()
    await expect(skip).to_be_in_viewport()
    await page.keyboard.press("Enter")
    focused = await page.evaluate("document.activeElement.closest('form')?.id")
    assert focused == "order-form"



async def test_the_chart_has_a_text_summary_of_its_last_closed_candle(new_context: NewContext) -> None:
    page = await (await new_context()).new_page()
    await register(page)
    summary = page.locator("#chart-summary")
    await expect(summary).to_have_text(re.compile(
        r"^BTCUSDT 1m candles\. Last closed candle: open [\d,.]+, high [\d,.]+, low [\d,.]+, close [\d,.]+\.$"))
    await expect(summary).to_have_attribute("aria-live", "polite")
    await page.get_by_role("button", name="5m", exact=True).click()
    await expect(summary).to_contain_text("BTCUSDT 5m candles.")
