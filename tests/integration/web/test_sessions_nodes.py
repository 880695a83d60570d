"""Two web processes on one Redis and one database (the second with ROLE=web): a session revoked,
every other session signed out, or a password changed on A is refused on B by the very next
request, and B closes the sockets concerned (issue 11)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.helpers import PASSWORD, auth, closed_for_session, login, open_ws, register, two_web_nodes


async def _me(session: Any, token: str) -> int:
    return int((await session.get("/auth/me", headers=auth(token))).status)


async def _sid(session: Any, token: str) -> str:
    listed = (await (await session.get("/api/account/sessions", headers=auth(token))).json())["sessions"]
    return str(next(s["id"] for s in listed if s["current"]))


async def test_revocations_on_one_node_end_the_sessions_on_the_other(tmp_path: Path, redis_url: str) -> None:
    async with two_web_nodes(tmp_path, redis_url) as (on_a, on_b):
        token, user = await register(on_a)
        email = user["email"]
        others = [(await login(on_a, email))["token"] for _ in range(4)]
        for t in (token, *others):
            assert await _me(on_b, t) == 200  # B has read (and cached) every session

        # One session revoked from the account on A.
        ws = await open_ws(on_b, others[0])
        resp = await on_a.delete(f"/api/account/sessions/{await _sid(on_a, others[0])}", headers=auth(token))
        assert resp.status == 204
        await closed_for_session(ws)
        assert await _me(on_b, others[0]) == 401

        # Every other session, from A.
        sockets = [await open_ws(on_b, t) for t in others[1:]]
        resp = await on_a.post("/auth/logout-all", json={"keepCurrent": True}, headers=auth(token))
        assert resp.status == 200 and (await resp.json())["revoked"] == 3
        for s in sockets:
            await closed_for_session(s)
        assert [await _me(on_b, t) for t in others[1:]] == [401, 401, 401]
        assert await _me(on_b, token) == 200

        # A password change on A.
        later = (await login(on_b, email))["token"]
        ws = await open_ws(on_b, later)
        resp = await on_a.post("/api/account/password", headers=auth(token),
                               json={"currentPassword": PASSWORD, "newPassword": "a brand new passphrase"})
        assert resp.status == 200 and (await resp.json())["revokedSessions"] == 1
        assert "password" in await closed_for_session(ws)
        assert await _me(on_b, later) == 401 and await _me(on_b, token) == 200
