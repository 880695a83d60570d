"""Renewing sessions (issue 11): short access tokens, refresh tokens that rotate on every use, a
reused refresh token ending its whole session, the absolute and idle limits, and the browser's
cookie way of renewing (CSRF-checked). Black-box through HTTP and the WebSocket."""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from app.persistence.models import RefreshToken, UserSession
from app.security.tokens import refresh_hash
from tests.support.apps import make_settings, running_app
from tests.support.helpers import PASSWORD, auth, closed_for_session, login, new_email, open_ws
from web.app_keys import GUARD, SETTINGS


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return data


async def _register(client: Any) -> tuple[dict[str, Any], str]:
    email = new_email()
    resp = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert resp.status == 201
    return await resp.json(), email


async def _refresh(client: Any, token: str) -> Any:
    return await client.post("/auth/refresh", json={"refreshToken": token})


async def test_a_sign_in_hands_out_a_short_access_token_and_a_refresh_token(client: Any) -> None:
    body, email = await _register(client)
    ttl = client.app[SETTINGS].access_ttl_seconds
    assert ttl == 900
    claims = _claims(body["token"])
    assert claims["exp"] - claims["iat"] == ttl and body["expiresAt"] == claims["exp"] * 1000
    assert isinstance(body["refreshToken"], str) and len(body["refreshToken"]) >= 43
    max_ms = 30 * 86400_000
    assert 0 <= body["sessionExpiresAt"] - claims["iat"] * 1000 - max_ms <= 2000
    logged = await login(client, email)
    assert logged["refreshToken"] != body["refreshToken"] and _claims(logged["token"])["sid"] != claims["sid"]


async def test_a_refresh_token_rotates_and_its_reuse_ends_the_whole_session(client: Any) -> None:
    body, _ = await _register(client)
    first = body["refreshToken"]
    resp = await _refresh(client, first)
    assert resp.status == 200
    renewed = await resp.json()
    assert set(renewed) == {"token", "refreshToken", "expiresAt", "sessionExpiresAt"}
    assert renewed["refreshToken"] != first
    assert _claims(renewed["token"])["sid"] == _claims(body["token"])["sid"]
    assert renewed["sessionExpiresAt"] == body["sessionExpiresAt"]  # renewing never extends the absolute end
    guard = client.app[GUARD]
    loads = guard.loads
    assert (await client.get("/api/trading/balances", headers=auth(renewed["token"]))).status == 200
    assert guard.loads == loads, "a renewed session is still checked from memory"
    second = await _refresh(client, renewed["refreshToken"])
    assert second.status == 200
    latest = await second.json()
    ws = await open_ws(client, latest["token"])

    stolen = await _refresh(client, first)  # the first token again: a copy was taken
    assert stolen.status == 401 and (await stolen.json())["code"] == "UNAUTHORIZED"
    assert "refresh token" in await closed_for_session(ws)
    for token in (body["token"], renewed["token"], latest["token"]):
        assert (await client.get("/auth/me", headers=auth(token))).status == 401
    assert (await _refresh(client, latest["refreshToken"])).status == 401  # the newest one died with it
    events = (await (await client.get("/api/account/activity", headers=auth((await _register(client))[0]["token"])))
              .json())["events"]
    assert all(e["kind"] != "refresh_reuse" for e in events), "another user sees none of it"


async def test_reuse_is_in_the_owners_activity(client: Any) -> None:
    body, email = await _register(client)
    renewed = await (await _refresh(client, body["refreshToken"])).json()
    assert (await _refresh(client, body["refreshToken"])).status == 401
    fresh = await login(client, email)
    events = (await (await client.get("/api/account/activity", headers=auth(fresh["token"]))).json())["events"]
    kinds = [e["kind"] for e in events]
    assert kinds[:2] == ["sign_in", "refresh_reuse"], kinds
    assert renewed["refreshToken"] not in json.dumps(events) and body["refreshToken"] not in json.dumps(events)


async def test_the_database_keeps_only_a_hash_of_refresh_tokens(client: Any) -> None:
    body, _ = await _register(client)
    rows = list(RefreshToken.select())
    assert any(r.token_hash == refresh_hash(body["refreshToken"]) for r in rows)
    assert all(body["refreshToken"] not in (r.token_hash, r.sid) for r in rows)


async def test_an_idle_session_and_one_past_its_lifetime_cannot_be_renewed(client: Any) -> None:
    idle_ms = int(client.app[SETTINGS].session_idle_hours * 3600_000)
    body, _ = await _register(client)
    # Not renewed for SESSION_IDLE_HOURS: its newest refresh token was issued that long ago.
    RefreshToken.update(created_at=RefreshToken.created_at - idle_ms - 1).where(
        RefreshToken.token_hash == refresh_hash(body["refreshToken"])).execute()
    assert (await _refresh(client, body["refreshToken"])).status == 401
    listed = await (await client.get("/api/account/sessions", headers=auth(body["token"]))).json()
    assert listed["sessions"] == [], "an idle session is not listed as live"

    other, _ = await _register(client)
    sid = _claims(other["token"])["sid"]
    UserSession.update(expires_at=int(time.time() * 1000) - 1).where(UserSession.id == sid).execute()
    assert (await _refresh(client, other["refreshToken"])).status == 401


async def test_renewal_refuses_what_is_not_a_refresh_token(client: Any) -> None:
    for body, status in (({}, 401), ({"refreshToken": "nope"}, 401), ({"refreshToken": 5}, 400),
                         ({"refreshToken": "x" * 513}, 400), ({"token": "x"}, 400), ([], 400)):
        resp = await client.post("/auth/refresh", json=body)
        assert resp.status == status, (body, await resp.text())
        assert (await resp.json())["code"] in ("UNAUTHORIZED", "BAD_REQUEST")
    access, _ = await _register(client)
    assert (await _refresh(client, access["token"])).status == 401  # an access token is not a refresh token


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


async def test_the_browser_renews_with_its_refresh_cookie_and_the_csrf_token(client: Any) -> None:
    form = await client.get("/register")
    csrf = _csrf(await form.text())
    resp = await client.post("/register", data={"csrf": csrf, "email": new_email(), "password": PASSWORD},
                             allow_redirects=False)
    assert resp.status == 303
    jar = {c.key: c.value for c in client.session.cookie_jar}
    old_access, old_refresh = jar["troupe_session"], jar["troupe_refresh"]
    forged = await client.post("/auth/refresh")  # another site's page: no CSRF token
    assert forged.status == 403 and (await forged.json())["code"] == "CSRF"
    renewed = await client.post("/auth/refresh", headers={"X-CSRF-Token": csrf})
    assert renewed.status == 200, await renewed.text()
    body = await renewed.json()
    assert set(body) == {"expiresAt", "sessionExpiresAt"}, "the cookie way never puts a token in a body"
    cookies = {c.split("=", 1)[0]: c for c in renewed.headers.getall("Set-Cookie")}
    assert "Path=/auth" in cookies["troupe_refresh"] and "HttpOnly" in cookies["troupe_refresh"]
    jar = {c.key: c.value for c in client.session.cookie_jar}
    assert jar["troupe_refresh"] != old_refresh
    assert _claims(jar["troupe_session"])["sid"] == _claims(old_access)["sid"]
    assert (await client.get("/api/trading/balances")).status == 200
    # A copy of the old refresh cookie, played back: the whole session ends.
    assert (await _refresh(client, old_refresh)).status == 401
    assert (await client.get("/api/trading/balances")).status == 401
    assert (await client.post("/auth/refresh", headers={"X-CSRF-Token": csrf})).status == 401


async def test_a_page_opened_after_the_access_token_expired_renews_the_session(client: Any) -> None:
    form = await client.get("/register")
    await client.post("/register", data={"csrf": _csrf(await form.text()), "email": new_email(),
                                         "password": PASSWORD}, allow_redirects=False)
    jar = client.session.cookie_jar
    refresh_before = next(c.value for c in jar if c.key == "troupe_refresh")
    # What the browser does when the access cookie's Max-Age has passed (a tab opened next morning).
    jar.clear(lambda c: c.key == "troupe_session")
    page = await client.get("/trade/BTCUSDT", allow_redirects=False)
    assert (page.status, page.headers["Location"]) == (303, "/auth/resume?next=/trade/BTCUSDT")
    resumed = await client.get(page.headers["Location"], allow_redirects=False)
    assert (resumed.status, resumed.headers["Location"]) == (303, "/trade/BTCUSDT")
    assert next(c.value for c in jar if c.key == "troupe_refresh") != refresh_before
    assert (await client.get("/trade/BTCUSDT", allow_redirects=False)).status == 200

    # Signed out: no way back without the password.
    html = await (await client.get("/trade/BTCUSDT")).text()
    meta = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert meta
    await client.post("/logout", data={"csrf": meta.group(1)}, allow_redirects=False)
    gone = await client.get("/trade/BTCUSDT", allow_redirects=False)
    assert (gone.status, gone.headers["Location"]) == (303, "/login?next=/trade/BTCUSDT")


async def test_resuming_without_a_live_refresh_cookie_leads_to_the_login_form(client: Any) -> None:
    plain = await client.get("/auth/resume?next=/account", allow_redirects=False)
    assert (plain.status, plain.headers["Location"]) == (303, "/login?next=/account")
    odd = await client.get("/auth/resume?next=https://evil.example/", allow_redirects=False)
    assert odd.headers["Location"] == "/login?next=/trade/BTCUSDT"  # never another site
    client.session.cookie_jar.update_cookies({"troupe_refresh": "not-a-token", "troupe_renewable": "1"})
    dead = await client.get("/auth/resume?next=/account", allow_redirects=False)
    assert (dead.status, dead.headers["Location"]) == (303, "/login?next=/account")
    cleared = {c.split("=", 1)[0] for c in dead.headers.getall("Set-Cookie") if "Max-Age=0" in c}
    assert {"troupe_session", "troupe_refresh", "troupe_renewable"} <= cleared


@pytest.fixture
async def db_client(aiohttp_client: Any, tmp_path: Path, database_url: str, redis_url: str) -> Any:
    async for c in running_app(aiohttp_client, make_settings(tmp_path, database_url, redis_url)):
        yield c


async def test_rotation_reuse_and_the_account_routes_on_both_databases(db_client: Any) -> None:
    client = db_client
    body, email = await _register(client)
    other = await login(client, email)
    renewed = await (await _refresh(client, body["refreshToken"])).json()
    again = await (await _refresh(client, renewed["refreshToken"])).json()
    listed = (await (await client.get("/api/account/sessions", headers=auth(again["token"]))).json())["sessions"]
    assert len(listed) == 2 and listed[0]["current"], "the one renewed last comes first"
    assert listed[0]["lastSeenAt"] >= listed[0]["createdAt"]
    assert (await _refresh(client, body["refreshToken"])).status == 401  # reuse: that session ends
    assert (await client.get("/auth/me", headers=auth(again["token"]))).status == 401
    changed = await client.post("/api/account/password", headers=auth(other["token"]),
                                json={"currentPassword": PASSWORD, "newPassword": "yet another passphrase"})
    assert changed.status == 200 and (await changed.json())["revokedSessions"] == 0
    kinds = [e["kind"] for e in (await (await client.get("/api/account/activity", headers=auth(other["token"])))
                                 .json())["events"]]
    assert kinds == ["password_changed", "refresh_reuse", "sign_in", "sign_in"]
