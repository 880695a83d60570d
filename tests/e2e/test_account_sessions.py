"""The account page's password, sessions and recent-activity sections (issue 11), in Chromium:
another device's session signed out from the list, a refused then accepted password change that
signs the other sessions out, "sign out everywhere else", and the activity with its flags."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.e2e.conftest import NewContext, screenshot
from tests.e2e.test_terminal import register, sign_in
from tests.support.helpers import PASSWORD

NEW_PASSWORD = "a new and longer passphrase"


async def _signed_out(page: Page) -> None:
    """The page's next call finds its session over: the terminal says so."""
    await expect(page.get_by_role("status").filter(has_text="Signed out")).to_be_visible(timeout=5000)


async def _login(page: Page, email: str, password: str = PASSWORD) -> None:
    await page.goto("/login")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()


async def test_sessions_password_and_activity_on_the_account_page(new_context: NewContext) -> None:
    page = await (await new_context(color_scheme="dark", timezone_id="UTC")).new_page()
    email = await register(page)
    phone = await (await new_context(user_agent="Mozilla/5.0 (Linux; Android 14) Chrome/120.0 Mobile")).new_page()
    await _login(phone, email)

    await page.goto("/account")
    sessions = page.get_by_role("table", name="Sessions")
    await expect(sessions.locator("tbody tr")).to_have_count(2)
    await expect(sessions.get_by_text("This session")).to_have_count(1)
    await expect(sessions.get_by_text("Chrome on Android")).to_be_visible()
    activity = page.get_by_role("table", name="Recent activity")
    await expect(activity.locator('tbody tr[data-kind="sign_in"]')).to_have_count(2)
    await expect(activity.get_by_text("new address")).to_have_count(1)  # only the very first sign-in
    await sessions.scroll_into_view_if_needed()
    await screenshot(page, "account-sessions-dark")

    # The phone's session, signed out from here: the phone's terminal says so at once.
    await sessions.get_by_role("button", name="Sign out Chrome on Android at 127.0.0.1").click()
    await expect(page.get_by_role("status").filter(has_text="Signed out: Chrome on Android")).to_be_visible()
    await expect(sessions.locator("tbody tr")).to_have_count(1)
    await _signed_out(phone)
    await expect(activity.locator('tbody tr[data-kind="session_revoked"]')).to_have_count(1)

    # A password change: refused with the wrong current password or a short new one, then accepted.
    await _login(phone, email)
    current, new = page.get_by_label("Current password"), page.get_by_label("New password")
    await current.fill("not my password at all")
    await new.fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Change password").click()
    await expect(page.get_by_role("alert").filter(has_text="current password is not right")).to_be_visible()
    await expect(current).to_have_attribute("aria-invalid", "true")
    await current.fill(PASSWORD)
    await new.fill("short")
    await page.get_by_role("button", name="Change password").click()
    await expect(page.get_by_role("alert").filter(has_text="at least 10 characters")).to_be_visible()
    await expect(new).to_have_attribute("aria-invalid", "true")
    await new.fill(NEW_PASSWORD)
    await page.get_by_role("button", name="Change password").click()
    await expect(page.get_by_role("status").filter(has_text="Password changed. 1 other session was signed out."))\
        .to_be_visible()
    await expect(current).to_have_value("")
    await _signed_out(phone)
    await expect(activity.locator('tbody tr[data-kind="password_changed"]')).to_have_count(1)
    await expect(activity.locator('tbody tr[data-kind="sign_in_failed"]')).to_have_count(0)

    # Sign out everywhere else: two more sessions end, this one stays.
    others = [await (await new_context()).new_page() for _ in range(2)]
    for other in others:
        await _login(other, email, NEW_PASSWORD)
    await page.reload()
    await expect(sessions.locator("tbody tr")).to_have_count(3)
    await page.get_by_role("button", name="Sign out everywhere else").click()
    await expect(page.get_by_role("status").filter(has_text="Signed out 2 other sessions.")).to_be_visible()
    await expect(sessions.locator("tbody tr")).to_have_count(1)
    await expect(page.get_by_role("button", name="Sign out everywhere else")).to_be_disabled()
    for other in others:
        await _signed_out(other)
    await expect(activity.get_by_text("Signed out everywhere else")).to_be_visible()
    await page.goto("/trade/BTCUSDT")
    await expect(page.get_by_role("status").filter(has_text="Live")).to_be_visible()  # this session lives on

    # On a phone the sections fit the screen's width.
    await page.goto("/account")
    await page.set_viewport_size({"width": 390, "height": 844})
    await expect(sessions.locator("tbody tr")).to_have_count(1)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await sessions.scroll_into_view_if_needed()
    await screenshot(page, "account-sessions-phone")
    await page.get_by_role("button", name="Log out").click()
    await page.goto("/login")  # the old password no longer works, the new one does
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("alert")).to_contain_text("wrong e-mail or password")
    await sign_in(page, email, NEW_PASSWORD)
