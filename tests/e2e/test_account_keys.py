"""The Account page's API keys in Chromium: create one with chosen permissions, see the secret once
with its warning and copy button, use the key from a bot, list it, revoke it."""

from __future__ import annotations

import time

import aiohttp
from playwright.async_api import Dialog, expect

from tests.e2e.conftest import NewContext, screenshot
from tests.e2e.test_terminal import register
from tests.support.helpers import signed_call


async def test_create_copy_list_and_revoke_a_key(new_context: NewContext, server: str) -> None:
    ctx = await new_context(permissions=["clipboard-read", "clipboard-write"])
    page = await ctx.new_page()
    await register(page)
    await page.goto("/account")
    keys = page.locator("#api-keys")
    await expect(keys.get_by_text("No API keys yet.")).to_be_visible()

    await keys.get_by_label("Label").fill("grid bot")
    await keys.get_by_label("Trade: place and cancel orders").check()
    await expect(keys.get_by_label("Read", exact=True)).to_be_checked()
    await keys.get_by_role("button", name="Create API key").click()

    warning = keys.get_by_text("Copy the secret key now: it is shown this once and never again.")
    await expect(warning).to_be_visible()
    secret = await keys.get_by_label("New secret").text_content() or ""
    api_key = await keys.get_by_label("New key").text_content() or ""
    assert len(secret) == 64 and len(api_key) == 64
    await keys.get_by_role("button", name="Copy secret").click()
    await expect(keys.get_by_text("Copied to the clipboard.")).to_be_visible()
    assert await page.evaluate("navigator.clipboard.readText()") == secret
    await screenshot(page, "account-api-key-created")

    table = page.get_by_role("table", name="Your API keys")
    row = table.locator("tbody tr")
    await expect(row).to_have_count(1)
    await expect(row.first).to_contain_text("grid bot")
    await expect(row.first).to_contain_text("read, trade")
    await expect(row.first.get_by_label(f"API key ending in {api_key[-4:]}")).to_have_text(f"••••{api_key[-4:]}")
    await expect(row.first).to_contain_text("never")

    # The key works for a bot, and the page then shows when it was last used.
    key = {"apiKey": api_key, "secretKey": secret}
    async with aiohttp.ClientSession(server) as bot:
        assert (await signed_call(bot, "GET", "/api/trading/balances", key)).status == 200

        await keys.get_by_role("button", name="I have saved the secret").click()
        await expect(warning).to_be_hidden()
        assert secret not in (await page.content())  # gone from the page once saved
        deadline = time.monotonic() + 5  # "last used" is written just after the bot's request
        while True:
            await page.reload()
            await expect(row).to_have_count(1)
            assert secret not in (await page.content())  # and never shown again
            if "from 127.0.0.1" in (await row.first.text_content() or ""):
                break
            assert time.monotonic() < deadline, "the page never showed the key's last use"

        async def accept(dialog: Dialog) -> None:
            await dialog.accept()
        page.once("dialog", accept)
        await row.first.get_by_role("button", name="Revoke grid bot").click()
        await expect(keys.get_by_text("No API keys yet.")).to_be_visible()
        await expect(table).to_be_hidden()
        assert (await signed_call(bot, "GET", "/api/trading/balances", key)).status == 401


async def test_a_refused_creation_says_why_on_the_page(new_context: NewContext) -> None:
    page = await (await new_context()).new_page()
    await register(page)
    await page.goto("/account")
    keys = page.locator("#api-keys")
    await keys.get_by_label("Label").fill("bad list")
    await keys.get_by_label("IP allow-list (optional, comma-separated addresses or networks)").fill("not-an-ip")
    await keys.get_by_role("button", name="Create API key").click()
    await expect(keys.get_by_role("alert")).to_contain_text("ipAllowlist")
    await expect(keys.get_by_text("No API keys yet.")).to_be_visible()
