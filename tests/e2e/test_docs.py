"""/docs in Chromium: Swagger UI renders the spec from this server alone (every other origin is
blocked, as when offline), under the site's CSP, with no page error."""

from __future__ import annotations

from playwright.async_api import Route, expect

from tests.e2e.conftest import NewContext, screenshot


async def test_the_docs_page_renders_the_spec_offline(new_context: NewContext, server: str) -> None:
    ctx = await new_context()
    outside: list[str] = []

    async def only_ours(route: Route) -> None:
        if route.request.url.startswith(server):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    await ctx.route("**/*", only_ours)
    page = await ctx.new_page()
    await page.goto("/docs")
    await expect(page.get_by_text("Place an order")).to_be_visible()
    await expect(page.get_by_text("Troupe's own REST API", exact=False)).to_be_visible()
    await page.get_by_text("Place an order").click()
    await expect(page.get_by_text("clientOrderId").first).to_be_visible()
    await screenshot(page, "docs")
    assert outside == []
