"""Sessions end when they should: sign-out, a disabled or deleted account, an expired token.

Black-box through HTTP and the WebSocket, as the defects were seen: after the end, the token gets
401 on every authenticated endpoint and the session's sockets close with 4001 within 2 s.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from app.messaging.auth_notices import AuthNotice, publish_sync
from app.persistence.models import User
from app.persistence.sessions import disable_user
from tests.support.apps import make_settings, running_app
from tests.support.helpers import (
    PASSWORD,
    auth,
    closed_for_session,
    eventually_401,
    new_email,
    open_ws,
    register,
    two_web_nodes,
)
from web.app_keys import GUARD, RUNTIME, SETTINGS
from web.ws_hub import SESSION_ENDED

# resume: a page (redirects); the Binance-compatible API's market data is public as on Binance (its
# signed routes answer 401 -2014 without a key, and are checked here like every other).
PUBLIC = ("/auth/register", "/auth/login", "/api/market/", "/auth/resume", "/api/v3/ping", "/api/v3/time",
          "/api/v3/exchangeInfo", "/api/v3/depth", "/api/v3/klines", "/api/v3/uiKlines", "/api/v3/ticker/",
          "/api/v3/avgPrice", "/api/v3/trades", "/api/v3/aggTrades")


def _authenticated_routes(client: Any) -> list[tuple[str, str]]:
    """(method, path) of every API route except the public ones, path parameters filled in."""
    found = []
    for route in client.app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if route.method in ("GET", "POST", "PUT", "DELETE") and path.startswith(("/api/", "/auth/")) \
                and not path.startswith(PUBLIC):
            found.append((route.method, re.sub(r"\{[^}]+\}", "1", path)))
    assert len(found) >= 15, found
    return found


async def _status(client: Any, method: str, path: str, headers: dict[str, str]) -> int:
    resp = await client.request(method, path, headers=headers, json={})
    return resp.status


async def test_logout_ends_the_session_on_every_endpoint_and_closes_its_sockets(client: Any) -> None:
    token, _ = await register(client)
    other, _ = await register(client)  # another session of another user, untouched
    routes = _authenticated_routes(client)
    for method, path in routes:
        assert await _status(client, method, path, {}) == 401, (method, path)
    ws = await open_ws(client, token)
    resp = await client.post("/auth/logout", headers=auth(token))
    assert resp.status == 204
    reason = await closed_for_session(ws)
    assert "signed out" in reason
    for method, path in routes:
        assert await _status(client, method, path, auth(token)) == 401, (method, path)
    assert (await client.get("/auth/me", headers=auth(other))).status == 200
    again = await client.post("/auth/logout", headers=auth(token))
    assert again.status == 401 and (await again.json())["code"] == "UNAUTHORIZED"


async def test_a_session_is_checked_from_memory_not_the_database(client: Any) -> None:
    token, _ = await register(client)
    guard = client.app[GUARD]
    before = guard.loads
    for _ in range(20):
        assert (await client.get("/api/trading/balances", headers=auth(token))).status == 200
    assert guard.loads == before, "a signed-in session is never read back per request"


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match
    return match.group(1)


async def test_page_logout_ends_the_cookie_session_for_the_api_too(client: Any) -> None:
    email = new_email()
    form = await client.get("/register")
    resp = await client.post("/register", data={"csrf": _csrf(await form.text()), "email": email,
                                                "password": PASSWORD}, allow_redirects=False)
    assert resp.status == 303
    cookie = next(c for c in client.session.cookie_jar if c.key == "troupe_session").value
    page = await client.get("/trade/BTCUSDT")
    meta = re.search(r'name="csrf-token" content="([^"]+)"', await page.text())
    assert meta
    assert (await client.get("/api/trading/balances")).status == 200
    ticket = await client.post("/api/ws-ticket", headers={"X-CSRF-Token": meta.group(1)})
    assert ticket.status == 200
    ws = await client.ws_connect(f"/ws?ticket={(await ticket.json())['ticket']}")
    assert (await ws.receive_json())["type"] == "SNAPSHOT"

    out = await client.post("/logout", data={"csrf": meta.group(1)}, allow_redirects=False)
    assert out.status == 303
    async with asyncio.timeout(2):
        closed = await ws.receive()
    assert (closed.type, closed.data) == (aiohttp.WSMsgType.CLOSE, SESSION_ENDED)
    # The old cookie, put back by hand (an attacker who copied it), and its JWT as a bearer token.
    client.session.cookie_jar.update_cookies({"troupe_session": cookie})
    assert (await client.get("/api/trading/balances")).status == 401
    assert (await client.get("/account", allow_redirects=False)).status == 303
    client.session.cookie_jar.clear()
    assert (await client.get("/api/trading/balances", headers=auth(cookie))).status == 401


async def test_cookie_logout_through_the_api_needs_the_csrf_token(client: Any) -> None:
    form = await client.get("/register")
    await client.post("/register", data={"csrf": _csrf(await form.text()), "email": new_email(),
                                         "password": PASSWORD}, allow_redirects=False)
    page = await client.get("/trade/BTCUSDT")
    meta = re.search(r'name="csrf-token" content="([^"]+)"', await page.text())
    assert meta
    assert (await client.post("/auth/logout")).status == 403  # a forged sign-out changes nothing
    assert (await client.get("/api/trading/balances")).status == 200
    resp = await client.post("/auth/logout", headers={"X-CSRF-Token": meta.group(1)})
    assert resp.status == 204
    assert "troupe_session" in resp.headers.get("Set-Cookie", "")
    assert (await client.get("/api/trading/balances")).status == 401


async def test_a_disabled_account_is_signed_out_everywhere(client: Any) -> None:
    token, user = await register(client)
    second = (await (await client.post("/auth/login", json={"email": user["email"], "password": PASSWORD})).json())
    ws = await open_ws(client, token)
    assert disable_user(user["id"])  # what an operator's tool does: the database, then the notice
    runtime = client.app[RUNTIME]
    publish_sync(runtime.redis_url, runtime.names.auth_notices, AuthNotice(user_id=user["id"], reason="disabled"))
    assert "disabled" in await closed_for_session(ws)
    for t in (token, second["token"]):
        await eventually_401(lambda t=t: _status(client, "GET", "/api/trading/balances", auth(t)), 2)
    login = await client.post("/auth/login", json={"email": user["email"], "password": PASSWORD})
    assert login.status == 403 and (await login.json())["code"] == "ACCOUNT_DISABLED"


async def test_a_new_token_version_ends_older_tokens(client: Any) -> None:
    token, user = await register(client)
    User.update(token_version=User.token_version + 1).where(User.id == user["id"]).execute()
    runtime = client.app[RUNTIME]
    publish_sync(runtime.redis_url, runtime.names.auth_notices, AuthNotice(user_id=user["id"]))
    await eventually_401(lambda: _status(client, "GET", "/auth/me", auth(token)), 2)


@pytest.fixture
async def short_cache_client(aiohttp_client: Any, tmp_path: Path, sqlite_url: str, redis_url: str) -> Any:
    settings = make_settings(tmp_path, sqlite_url, redis_url, auth_cache_seconds=1,
                             access_ttl_seconds=3, session_max_days=3 / 86400)
    async for c in running_app(aiohttp_client, settings):
        yield c


async def test_a_deleted_account_is_refused_even_when_deleted_by_hand(short_cache_client: Any) -> None:
    client = short_cache_client
    token, user = await register(client)
    assert (await client.get("/api/trading/balances", headers=auth(token))).status == 200
    User.delete().where(User.id == user["id"]).execute()  # behind Troupe's back: no notice at all
    limit = client.app[SETTINGS].auth_cache_seconds + 1
    await eventually_401(lambda: _status(client, "POST", "/api/trading/orders", auth(token)), limit)


async def test_a_websocket_closes_when_its_session_expires(short_cache_client: Any) -> None:
    client = short_cache_client
    token, _ = await register(client)
    ws = await open_ws(client, token)
    ttl = client.app[SETTINGS].session_max_days * 86400
    assert "expired" in await closed_for_session(ws, within_s=ttl + 2)


async def test_a_sign_out_on_one_node_reaches_the_other(tmp_path: Path, redis_url: str) -> None:
    """Two web processes on one Redis and one database: a session ended on A is dead on B."""
    async with two_web_nodes(tmp_path, redis_url) as (on_a, on_b):
        token, _ = await register(on_a)
        assert (await on_b.get("/auth/me", headers=auth(token))).status == 200
        ws = await open_ws(on_b, token)
        assert (await on_a.post("/auth/logout", headers=auth(token))).status == 204
        await closed_for_session(ws)
        await eventually_401(lambda: _status(on_b, "GET", "/auth/me", auth(token)), 2)
