"""Pages and browser sessions over real HTTP: cookies, CSRF, redirects, exchange keys.

The browser journey itself is in tests/e2e; these tests pin the security rules a browser cannot
show: what a forged request gets, which flags the cookies carry, and what is never sent back.
"""

from __future__ import annotations

import base64
import json
import re
import time
from typing import Any

from app.persistence.models import ExchangeKey, Order
from tests.support.helpers import PASSWORD, new_email

KEY = "TestnetApiKey0123456789abcdWXYZ"
SECRET = "TestnetSecret0123456789abcdefSECRETvalue"


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the form carries a CSRF token"
    return match.group(1)


async def _sign_up(client: Any, email: str | None = None) -> tuple[str, str]:
    """Register through the form; returns (email, the terminal page's CSRF token)."""
    email = email or new_email()
    form = await client.get("/register")
    resp = await client.post("/register", data={"csrf": _csrf(await form.text()), "email": email,
                                                "password": PASSWORD}, allow_redirects=False)
    assert resp.status == 303 and resp.headers["Location"] == "/trade/BTCUSDT"
    page = await client.get("/trade/BTCUSDT")
    assert page.status == 200
    meta = re.search(r'name="csrf-token" content="([^"]+)"', await page.text())
    assert meta
    return email, meta.group(1)


async def test_pages_redirect_to_login_and_back(client: Any) -> None:
    home = await client.get("/", allow_redirects=False)
    assert (home.status, home.headers["Location"]) == (303, "/trade/BTCUSDT")
    terminal = await client.get("/trade/ETHUSDT", allow_redirects=False)
    assert (terminal.status, terminal.headers["Location"]) == (303, "/login?next=/trade/ETHUSDT")
    login = await client.get("/login?next=/trade/ETHUSDT")
    html = await login.text()
    assert 'name="next" value="/trade/ETHUSDT"' in html
    email, _ = await _sign_up(client)
    client.session.cookie_jar.clear()
    login = await client.get("/login?next=/trade/ETHUSDT")
    resp = await client.post("/login", data={"csrf": _csrf(await login.text()), "email": email, "password": PASSWORD,
                                             "next": "/trade/ETHUSDT"}, allow_redirects=False)
    assert (resp.status, resp.headers["Location"]) == (303, "/trade/ETHUSDT")


async def test_next_is_never_an_open_redirect(client: Any) -> None:
    email, _ = await _sign_up(client)
    client.session.cookie_jar.clear()
    for evil in ("https://evil.example/", "//evil.example", "/trade/BTCUSDT/../../x", "/\\evil.example"):
        login = await client.get("/login", params={"next": evil})
        assert 'name="next" value="/trade/BTCUSDT"' in await login.text()
        resp = await client.post("/login", data={"csrf": _csrf(await login.text()), "email": email,
                                                 "password": PASSWORD, "next": evil}, allow_redirects=False)
        assert resp.headers["Location"] == "/trade/BTCUSDT"
        client.session.cookie_jar.clear()


async def test_session_cookie_flags(client: Any) -> None:
    form = await client.get("/register")
    csrf_cookie = form.headers.getall("Set-Cookie")
    assert any(c.startswith("troupe_csrf=") and "HttpOnly" in c and "SameSite=Strict" in c for c in csrf_cookie)
    resp = await client.post("/register", data={"csrf": _csrf(await form.text()), "email": new_email(),
                                                "password": PASSWORD}, allow_redirects=False)
    session = [c for c in resp.headers.getall("Set-Cookie") if c.startswith("troupe_session=")]
    assert len(session) == 1
    assert "HttpOnly" in session[0] and "SameSite=Strict" in session[0] and "Path=/" in session[0]
    assert "Max-Age=900" in session[0]  # ACCESS_TTL_SECONDS; the refresh cookie lasts the session, on /auth only
    refresh = [c for c in resp.headers.getall("Set-Cookie") if c.startswith("troupe_refresh=")]
    assert len(refresh) == 1
    assert "HttpOnly" in refresh[0] and "SameSite=Strict" in refresh[0] and "Path=/auth" in refresh[0]
    assert f"Max-Age={30 * 86400}" in refresh[0] or f"Max-Age={30 * 86400 - 1}" in refresh[0]


async def test_forms_without_the_csrf_token_change_nothing(client: Any) -> None:
    email = new_email()
    await client.get("/register")  # the browser has a CSRF cookie, the forger does not know it
    for data in ({"email": email, "password": PASSWORD}, {"csrf": "guess", "email": email, "password": PASSWORD}):
        resp = await client.post("/register", data=data, allow_redirects=False)
        assert resp.status == 403
        assert "CSRF" in await resp.text()
        assert not any(c.startswith("troupe_session=") for c in resp.headers.getall("Set-Cookie", []))
    login = await client.get("/login")
    resp = await client.post("/login", data={"csrf": _csrf(await login.text()), "email": email, "password": PASSWORD})
    assert resp.status == 401, "the forged registrations created no account"


async def test_cookie_authenticated_api_calls_need_the_csrf_header(client: Any) -> None:
    _, token = await _sign_up(client)
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}
    for headers in ({}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": token, "Origin": "https://evil.example"}):
        resp = await client.post("/api/trading/orders", json=order, headers=headers)
        assert resp.status == 403, headers
        assert (await resp.json())["code"] == "CSRF"
    listed = await client.get("/api/trading/orders")  # a read needs no token
    assert listed.status == 200 and (await listed.json())["orders"] == []
    placed = await client.post("/api/trading/orders", json=order, headers={"X-CSRF-Token": token})
    assert placed.status == 202, await placed.text()
    ticket = await client.post("/api/ws-ticket", headers={"X-CSRF-Token": token})
    assert ticket.status == 200


async def test_logout_clears_the_session_and_a_forged_logout_does_not(client: Any) -> None:
    _, token = await _sign_up(client)
    forged = await client.post("/logout", data={"csrf": "nope"}, allow_redirects=False)
    assert forged.status == 303
    assert (await client.get("/trade/BTCUSDT", allow_redirects=False)).status == 200
    resp = await client.post("/logout", data={"csrf": token}, allow_redirects=False)
    assert (resp.status, resp.headers["Location"]) == (303, "/login")
    assert (await client.get("/trade/BTCUSDT", allow_redirects=False)).status == 303
    assert (await client.get("/api/trading/orders")).status == 401


async def test_login_errors_are_shown_on_the_form(client: Any) -> None:
    email, _ = await _sign_up(client)
    client.session.cookie_jar.clear()
    login = await client.get("/login")
    resp = await client.post("/login", data={"csrf": _csrf(await login.text()), "email": email, "password": "wrong!"})
    assert resp.status == 401
    html = await resp.text()
    assert 'role="alert"' in html and "wrong e-mail or password" in html
    assert f'value="{email}"' in html, "the e-mail is kept; the password never comes back"
    form = await client.get("/register")
    resp = await client.post("/register", data={"csrf": _csrf(await form.text()), "email": email, "password": "x"})
    assert resp.status == 400 and "10 characters" in await resp.text()


async def test_unknown_symbol_page_is_a_404(client: Any) -> None:
    await _sign_up(client)
    resp = await client.get("/trade/NOPEUSDT")
    assert resp.status == 404 and "There is no market called NOPEUSDT" in await resp.text()


async def test_exchange_keys_are_masked_encrypted_replaced_and_removed(client: Any) -> None:
    await _sign_up(client)
    page = await client.get("/account")
    assert "none" in await page.text()
    resp = await client.post("/account/keys", data={"csrf": _csrf(await page.text()), "apiKey": KEY,
                                                    "secretKey": SECRET}, allow_redirects=False)
    assert (resp.status, resp.headers["Location"]) == (303, "/account?saved=keys")
    html = await (await client.get("/account?saved=keys")).text()
    assert "••••••••WXYZ" in html and KEY not in html and SECRET not in html and KEY[:-4] not in html
    row = ExchangeKey.get(ExchangeKey.api_key_last4 == "WXYZ")
    assert KEY.encode() not in row.api_key_enc and SECRET.encode() not in row.secret_enc
    new_key = "ReplacementKey0123456789QRST"
    resp = await client.post("/account/keys", data={"csrf": _csrf(html), "apiKey": new_key, "secretKey": SECRET},
                             allow_redirects=False)
    assert resp.status == 303
    html = await (await client.get("/account")).text()
    assert "••••••••QRST" in html and "WXYZ" not in html
    bad = await client.post("/account/keys", data={"csrf": _csrf(html), "apiKey": "short", "secretKey": SECRET})
    assert bad.status == 400 and "16-128 letters and digits" in await bad.text()
    assert "••••••••QRST" in await bad.text(), "a bad submission changes nothing"
    resp = await client.post("/account/keys/delete", data={"csrf": _csrf(html)}, allow_redirects=False)
    assert resp.headers["Location"] == "/account?saved=removed"
    assert "none" in await (await client.get("/account")).text()
    assert ExchangeKey.select().count() == 0


async def test_exchange_key_api(client: Any) -> None:
    from tests.support.helpers import auth, register
    token, _ = await register(client)
    put = await client.put("/api/account/exchange-key", json={"apiKey": KEY, "secretKey": SECRET}, headers=auth(token))
    assert put.status == 200 and await put.json() == {"binanceKey": {"apiKeyLast4": "WXYZ"}}
    assert SECRET not in await put.text()
    got = await client.get("/api/account/exchange-key", headers=auth(token))
    assert await got.json() == {"binanceKey": {"apiKeyLast4": "WXYZ"}}
    bad = await client.put("/api/account/exchange-key", json={"apiKey": KEY}, headers=auth(token))
    assert bad.status == 400
    assert (await client.delete("/api/account/exchange-key", headers=auth(token))).status == 204
    assert (await client.delete("/api/account/exchange-key", headers=auth(token))).status == 404


async def test_users_never_see_each_others_orders_through_pages(client: Any) -> None:
    _, token = await _sign_up(client)
    placed = await client.post("/api/trading/orders", headers={"X-CSRF-Token": token},
                               json={"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "price": "10000",
                                     "quantity": "0.001", "timeInForce": "GTC"})
    assert placed.status == 202, await placed.text()
    order_id = (await placed.json())["orderId"]
    client.session.cookie_jar.clear()
    _, token2 = await _sign_up(client)
    assert (await client.get(f"/api/trading/orders/{order_id}")).status == 404
    cancel = await client.delete(f"/api/trading/orders/{order_id}", headers={"X-CSRF-Token": token2})
    assert cancel.status in (202, 404)
    assert Order.get_by_id(order_id).status in ("PENDING", "NEW")
    assert (await (await client.get("/api/trading/orders")).json())["orders"] == []


async def test_templates_have_no_inline_script_or_handlers() -> None:
    from settings import BASE_DIR
    for path in (BASE_DIR / "templates").glob("*.html"):
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), f"{path.name} has an inline script"
        assert not re.search(r"\son[a-z]+=", text), f"{path.name} has an inline event handler"
        assert "|safe" not in text, f"{path.name} turns autoescaping off"
    for path in (BASE_DIR / "static" / "js").glob("*.js"):
        code = path.read_text()
        assert not re.search(r"\.(inner|outer)HTML\s*=|insertAdjacentHTML|document\.write", code), \
            f"{path.name} writes HTML; use textContent"


def _top_bar(html: str) -> str:
    match = re.search(r'<header class="topbar">(.*?)</header>', html, re.S)
    assert match, "the page has the top bar"
    return match.group(1)


async def test_failed_login_and_register_pages_keep_the_email_in_the_form_not_in_the_top_bar(client: Any) -> None:
    """A failed sign-in is not signed in: the typed e-mail belongs to the form only."""
    email, _ = await _sign_up(client)
    client.session.cookie_jar.clear()
    login = await client.get("/login")
    failed_login = await client.post("/login", data={"csrf": _csrf(await login.text()), "email": email,
                                                     "password": "not the password"})
    register = await client.get("/register")
    failed_register = await client.post("/register", data={"csrf": _csrf(await register.text()), "email": email,
                                                           "password": "a long passphrase"})
    assert (failed_login.status, failed_register.status) == (401, 409)
    for html in (await failed_login.text(), await failed_register.text()):
        assert re.search(rf'<input id="email"[^>]*value="{re.escape(email)}"', html), "the form keeps the e-mail"
        top = _top_bar(html)
        assert email not in top and "Log out" not in top and 'href="/account"' not in top
        assert 'href="/login"' in top and 'href="/register"' in top


async def test_signed_in_pages_show_the_user_in_the_top_bar(client: Any) -> None:
    email, _ = await _sign_up(client)
    for path in ("/trade/BTCUSDT", "/account", "/trade/NOPEUSDT"):
        top = _top_bar(await (await client.get(path)).text())
        assert email in top and "Log out" in top, path


async def test_the_terminal_carries_when_its_session_expires(client: Any) -> None:
    """The terminal renews its access token before it expires and warns before the session itself
    ends: it needs both (epoch ms); the session ends SESSION_MAX_DAYS after the sign-in."""
    before_ms = int(time.time() * 1000)
    await _sign_up(client)
    cookie = next(c for c in client.session.cookie_jar if c.key == "troupe_session").value
    payload = cookie.split(".")[1]
    exp = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"]
    html = await (await client.get("/trade/BTCUSDT")).text()
    assert f'data-access-expires="{exp * 1000}"' in html
    found = re.search(r'data-session-expires="([0-9]+)"', html)
    assert found
    max_ms = 30 * 86400_000
    assert before_ms + max_ms <= int(found.group(1)) <= int(time.time() * 1000) + max_ms
