"""The account's sessions, password and security activity (issue 11), black-box through HTTP and
the WebSocket: list and revoke sessions, sign out everywhere (else), change the password, read
the activity; nobody ever sees or touches another user's rows."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from tests.support.apps import make_settings, running_app
from tests.support.helpers import PASSWORD, auth, closed_for_session, login, new_email, open_ws

NEW_PASSWORD = "another long passphrase"


async def _account(client: Any, sessions: int = 1) -> tuple[str, list[dict[str, Any]]]:
    """A new account signed in `sessions` times: its e-mail and the sign-in bodies."""
    email = new_email()
    resp = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert resp.status == 201
    bodies = [await resp.json()]
    for _ in range(sessions - 1):
        bodies.append(await login(client, email))
    return email, bodies


async def _sessions(client: Any, token: str) -> list[dict[str, Any]]:
    resp = await client.get("/api/account/sessions", headers=auth(token))
    assert resp.status == 200
    listed: list[dict[str, Any]] = (await resp.json())["sessions"]
    return listed


async def _current_id(client: Any, token: str) -> str:
    return next(s["id"] for s in await _sessions(client, token) if s["current"])


async def _events(client: Any, token: str, query: str = "") -> dict[str, Any]:
    resp = await client.get(f"/api/account/activity{query}", headers=auth(token))
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def _me(client: Any, token: str) -> int:
    return int((await client.get("/auth/me", headers=auth(token))).status)


async def test_the_session_list_marks_the_current_one_and_shows_only_yours(client: Any) -> None:
    _, (a1, a2) = await _account(client, 2)
    _, (b1,) = await _account(client)
    listed = await _sessions(client, a1["token"])
    assert len(listed) == 2 and [s["current"] for s in listed].count(True) == 1
    for s in listed:
        assert set(s) == {"id", "kind", "createdAt", "lastSeenAt", "expiresAt", "ip", "userAgent", "current"}
        assert s["kind"] == "api" and s["ip"] == "127.0.0.1" and s["lastSeenAt"] >= s["createdAt"]
    assert {s["id"] for s in listed}.isdisjoint({s["id"] for s in await _sessions(client, b1["token"])})
    assert await _current_id(client, a2["token"]) != await _current_id(client, a1["token"])


async def test_revoking_a_session_ends_it_at_once_and_another_users_id_is_404(client: Any) -> None:
    _, (a1, a2) = await _account(client, 2)
    _, (b1,) = await _account(client)
    a2_id, b1_id = await _current_id(client, a2["token"]), await _current_id(client, b1["token"])
    ws = await open_ws(client, a2["token"])
    for sid in (b1_id, "no-such-session", "x" * 40):
        resp = await client.delete(f"/api/account/sessions/{sid}", headers=auth(a1["token"]))
        assert resp.status == 404 and (await resp.json())["code"] == "NOT_FOUND"
    assert await _me(client, b1["token"]) == 200, "another user's session is untouched"
    resp = await client.delete(f"/api/account/sessions/{a2_id}", headers=auth(a1["token"]))
    assert resp.status == 204
    await closed_for_session(ws)
    assert await _me(client, a2["token"]) == 401
    assert (await client.post("/auth/refresh", json={"refreshToken": a2["refreshToken"]})).status == 401
    assert await _me(client, a1["token"]) == 200
    again = await client.delete(f"/api/account/sessions/{a2_id}", headers=auth(a1["token"]))
    assert again.status == 404
    assert [s["id"] for s in await _sessions(client, a1["token"])] == [await _current_id(client, a1["token"])]
    kinds = [e["kind"] for e in (await _events(client, a1["token"]))["events"]]
    assert kinds[0] == "session_revoked"


async def test_sign_out_everywhere_else_keeps_this_session(client: Any) -> None:
    _, (s1, s2, s3) = await _account(client, 3)
    sockets = [await open_ws(client, s["token"]) for s in (s2, s3)]
    resp = await client.post("/auth/logout-all", json={"keepCurrent": True}, headers=auth(s1["token"]))
    assert resp.status == 200 and await resp.json() == {"revoked": 2}
    for ws in sockets:
        assert "everywhere" in await closed_for_session(ws)
    assert [await _me(client, s["token"]) for s in (s1, s2, s3)] == [200, 401, 401]
    assert len(await _sessions(client, s1["token"])) == 1
    event = (await _events(client, s1["token"]))["events"][0]
    assert event["kind"] == "logout_all" and event["detail"] == {"sessions": "2", "kept_current": "true"}


async def test_sign_out_everywhere_ends_this_session_too(client: Any) -> None:
    email, (s1, s2) = await _account(client, 2)
    bad = await client.post("/auth/logout-all", json={"keepCurrent": "yes"}, headers=auth(s1["token"]))
    assert bad.status == 400 and (await bad.json())["field"] == "keepCurrent"
    resp = await client.post("/auth/logout-all", headers=auth(s1["token"]))
    assert resp.status == 200 and await resp.json() == {"revoked": 2}
    assert [await _me(client, s["token"]) for s in (s1, s2)] == [401, 401]
    assert (await client.post("/auth/refresh", json={"refreshToken": s1["refreshToken"]})).status == 401
    await login(client, email)  # the password still works


async def test_changing_the_password_ends_every_other_session(client: Any) -> None:
    email, (s1, s2) = await _account(client, 2)
    ws = await open_ws(client, s2["token"])
    mine = await open_ws(client, s1["token"])
    resp = await client.post("/api/account/password", json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
                             headers=auth(s1["token"]))
    assert resp.status == 200 and await resp.json() == {"revokedSessions": 1}
    assert "password" in await closed_for_session(ws)
    assert await _me(client, s2["token"]) == 401 and await _me(client, s1["token"]) == 200
    await mine.send({"type": "ping"})
    assert (await mine.wait_for(lambda m: m["type"] == "pong"))["type"] == "pong", "this session's socket lives on"
    old = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert old.status == 401
    await login(client, email, NEW_PASSWORD)
    kinds = [e["kind"] for e in (await _events(client, s1["token"]))["events"]]
    assert kinds[:3] == ["sign_in", "sign_in_failed", "password_changed"]


@pytest.mark.parametrize("body,status,field", [
    ({"currentPassword": PASSWORD, "newPassword": "short"}, 400, "newPassword"),
    ({"currentPassword": PASSWORD, "newPassword": "é" * 37}, 400, "newPassword"),  # 74 bytes
    ({"currentPassword": PASSWORD, "newPassword": PASSWORD}, 400, "newPassword"),
    ({"currentPassword": "not my password at all", "newPassword": NEW_PASSWORD}, 403, "currentPassword"),
    ({"currentPassword": PASSWORD}, 400, "newPassword"),
    ({"currentPassword": PASSWORD, "newPassword": 12345678901}, 400, "newPassword"),
    ({"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD, "confirm": NEW_PASSWORD}, 400, "confirm"),
])
async def test_a_refused_password_change_changes_nothing(client: Any, body: dict[str, Any], status: int,
                                                         field: str) -> None:
    email, (s1, s2) = await _account(client, 2)
    resp = await client.post("/api/account/password", json=body, headers=auth(s1["token"]))
    assert resp.status == status, await resp.text()
    problem = await resp.json()
    assert problem["field"] == field
    assert problem["code"] == ("WRONG_PASSWORD" if status == 403 else "BAD_REQUEST")
    assert [await _me(client, s["token"]) for s in (s1, s2)] == [200, 200]
    await login(client, email)


@pytest.fixture
async def strict_client(aiohttp_client: Any, tmp_path: Path, sqlite_url: str, redis_url: str) -> Any:
    settings = make_settings(tmp_path, sqlite_url, redis_url, login_failures_per_min=3)
    async for c in running_app(aiohttp_client, settings):
        yield c


async def test_wrong_current_passwords_count_against_the_login_limiter(strict_client: Any) -> None:
    client = strict_client
    email, (s1,) = await _account(client)
    wrong = {"currentPassword": "not my password at all", "newPassword": NEW_PASSWORD}
    statuses = [(await client.post("/api/account/password", json=wrong, headers=auth(s1["token"]))).status
                for _ in range(4)]
    assert statuses == [403, 403, 403, 429]
    right = {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}
    assert (await client.post("/api/account/password", json=right, headers=auth(s1["token"]))).status == 429
    assert (await client.post("/auth/login", json={"email": email, "password": PASSWORD})).status == 429


async def test_the_activity_flags_a_new_address_and_pages_newest_first(client: Any) -> None:
    email, (s1,) = await _account(client)
    other, (b1,) = await _account(client)
    assert (await client.post("/auth/login", json={"email": email, "password": "wrong password!!"},
                              headers={"User-Agent": "curl/8"})).status == 401
    await login(client, email, headers={"User-Agent": "Troupe-Test/1"})
    events = (await _events(client, s1["token"]))["events"]
    assert [e["kind"] for e in events] == ["sign_in", "sign_in_failed", "sign_in"]
    latest, failed, first = events
    assert first["newAddress"] is True and latest["newAddress"] is False and failed["newAddress"] is False
    assert latest["userAgent"] == "Troupe-Test/1" and failed["userAgent"] == "curl/8"
    assert all(e["ip"] == "127.0.0.1" for e in events)
    assert latest["id"] > failed["id"] > first["id"] and latest["time"] >= first["time"]
    assert other not in str(events) and [e["kind"] for e in (await _events(client, b1["token"]))["events"]] == [
        "sign_in"]

    pages, cursor = [], ""
    while True:
        page = await _events(client, s1["token"], f"?limit=2{cursor}")
        pages.append([e["id"] for e in page["events"]])
        if page["nextCursor"] is None:
            break
        cursor = f"&cursor={page['nextCursor']}"
    assert pages == [[latest["id"], failed["id"]], [first["id"]]]
    for query in ("?limit=0", "?limit=101", "?limit=x", "?cursor=-1", "?cursor=abc"):
        resp = await client.get(f"/api/account/activity{query}", headers=auth(s1["token"]))
        assert resp.status == 400, query


async def test_a_sign_in_from_another_address_is_flagged(aiohttp_client: Any, tmp_path: Path, sqlite_url: str,
                                                         redis_url: str) -> None:
    from ipaddress import ip_network
    settings = make_settings(tmp_path, sqlite_url, redis_url, trusted_proxies=(ip_network("127.0.0.1/32"),))
    async for client in running_app(aiohttp_client, settings):
        email, (s1,) = await _account(client)
        await login(client, email, headers={"X-Forwarded-For": "198.51.100.7"})
        await login(client, email, headers={"X-Forwarded-For": "198.51.100.7"})
        events = (await _events(client, s1["token"]))["events"]
        assert [(e["ip"], e["newAddress"]) for e in events] == [
            ("198.51.100.7", False), ("198.51.100.7", True), ("127.0.0.1", True)]


async def test_the_log_has_one_line_per_event_and_never_a_secret(client: Any, caplog: pytest.LogCaptureFixture
                                                                 ) -> None:
    with caplog.at_level(logging.INFO, logger="troupe.security"):
        email, (s1,) = await _account(client)
        renewed = await (await client.post("/auth/refresh", json={"refreshToken": s1["refreshToken"]})).json()
        await client.post("/api/account/password", json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
                          headers=auth(renewed["token"]))
        await client.post("/auth/login", json={"email": email, "password": "a wrong password"})
    lines = [r.getMessage() for r in caplog.records if r.name == "troupe.security"]
    assert [line.split()[1] for line in lines] == ["sign_in", "password_changed", "sign_in_failed"]
    text = "\n".join(lines)
    for secret in (PASSWORD, NEW_PASSWORD, "a wrong password", s1["token"], s1["refreshToken"],
                   renewed["token"], renewed["refreshToken"]):
        assert secret not in text


async def test_only_a_signed_in_session_reaches_these_routes(client: Any) -> None:
    for method, path in (("GET", "/api/account/sessions"), ("DELETE", "/api/account/sessions/x"),
                         ("POST", "/api/account/password"), ("GET", "/api/account/activity"),
                         ("POST", "/auth/logout-all")):
        resp = await client.request(method, path, json={})
        assert resp.status == 401 and (await resp.json())["code"] == "UNAUTHORIZED", (method, path)
