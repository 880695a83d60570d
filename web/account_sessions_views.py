"""The account's sessions, password and security activity: GET /api/account/sessions, DELETE
/api/account/sessions/{id}, POST /api/account/password, GET /api/account/activity.

Only a signed-in session manages these (scope "account", which no API key holds). Each route works
on the caller's own rows only: another user's session id is answered like an unknown one (404).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from aiohttp import web

from app.persistence import activity
from app.persistence.sessions import SessionRow, change_password, live_sessions, password_hash_of, revoke_users_session
from app.persistence.users import user_by_id
from app.schemas import SchemaError, parse_int_param
from app.security.passwords import PasswordPolicyError, check_policy, hash_password, verify_password
from web.app_keys import CPU_POOL, SETTINGS
from web.auth import require_user
from web.login_limits import before_login, login_failed, login_succeeded
from web.plumbing import in_db, read_json
from web.problems import Problem
from web.session import clear_session
from web.sign_in import announce, note

routes = web.RouteTableDef()
_SID = re.compile(r"[A-Za-z0-9_-]{1,32}")


def session_json(row: SessionRow, current_sid: str) -> dict[str, Any]:
    return {"id": row.sid, "kind": row.kind, "createdAt": row.created_at, "lastSeenAt": row.last_seen_at,
            "expiresAt": row.expires_at, "ip": row.ip, "userAgent": row.user_agent, "current": row.sid == current_sid}


def event_json(event: activity.Event) -> dict[str, Any]:
    detail = dict(event.detail)
    new_address = detail.pop("new_address", None) == "true"
    return {"id": event.id, "kind": event.kind, "time": event.created_at, "ip": event.ip,
            "userAgent": event.user_agent, "newAddress": new_address, "detail": detail}


@routes.get("/api/account/sessions")
async def list_sessions(request: web.Request) -> web.Response:
    claims = await require_user(request, scope="account")
    idle_ms = int(request.app[SETTINGS].session_idle_hours * 3600_000)
    rows = await in_db(request, live_sessions, claims.user_id, idle_ms)
    return web.json_response({"sessions": [session_json(r, claims.sid) for r in rows]})


@routes.delete("/api/account/sessions/{id}")
async def delete_session(request: web.Request) -> web.Response:
    """Sign one of your sessions out (this one too: that is a sign-out)."""
    claims = await require_user(request, scope="account")
    sid = request.match_info["id"]
    if not _SID.fullmatch(sid) or not await in_db(request, revoke_users_session, claims.user_id, sid):
        raise Problem(404, "you have no live session with this id", code="NOT_FOUND")
    await announce(request, [sid], "signed out from the account page")
    current = sid == claims.sid
    await note(request, claims.user_id, "session_revoked", {"reason": "revoked", "current": str(current).lower()})
    response = web.Response(status=204)
    if current and "Authorization" not in request.headers:
        clear_session(response)
    return response


def _password_body(body: Any) -> tuple[str, str]:
    if not isinstance(body, dict):
        raise SchemaError("body must be a JSON object")
    for key in body:
        if key not in ("currentPassword", "newPassword"):
            raise SchemaError(f"unknown field {key!r}; allowed: currentPassword, newPassword", key)
    for key in ("currentPassword", "newPassword"):
        if type(body.get(key)) is not str:
            raise SchemaError(f"{key} is required, as a string", key)
    return body["currentPassword"], body["newPassword"]


@routes.post("/api/account/password")
async def set_password(request: web.Request) -> web.Response:
    """Change the password: the current one is checked (and counted by the login limiter), the new one
    follows the registration rule, and every other session ends at once, sockets included."""
    claims = await require_user(request, scope="account")
    current, new = _password_body(await read_json(request))
    try:
        check_policy(new)
    except PasswordPolicyError as exc:
        raise Problem(400, str(exc).replace("password", "newPassword", 1), code="BAD_REQUEST",
                      field="newPassword") from None
    user = await in_db(request, user_by_id, claims.user_id)
    if user is None:
        raise Problem(401, "this account no longer exists; sign in again", code="UNAUTHORIZED")
    await before_login(request, user.email)
    rounds = request.app[SETTINGS].bcrypt_rounds
    loop = asyncio.get_running_loop()
    stored = await in_db(request, password_hash_of, user.id)
    if not await loop.run_in_executor(request.app[CPU_POOL], verify_password, current, stored, rounds):
        await login_failed(request, user.email)
        raise Problem(403, "the current password is not right", code="WRONG_PASSWORD", field="currentPassword")
    await login_succeeded(request, user.email)
    if new == current:
        raise Problem(400, "choose a new password that differs from the current one", code="BAD_REQUEST",
                      field="newPassword")
    new_hash = await loop.run_in_executor(request.app[CPU_POOL], hash_password, new, rounds)
    ended = await in_db(request, change_password, user.id, new_hash, claims.sid)
    await announce(request, ended, "password changed")
    await note(request, user.id, "password_changed", {"sessions_ended": str(len(ended))})
    return web.json_response({"revokedSessions": len(ended)})


@routes.get("/api/account/activity")
async def list_activity(request: web.Request) -> web.Response:
    """Your security activity, newest first; `cursor` is the `nextCursor` of the page before."""
    claims = await require_user(request, scope="account")
    limit = parse_int_param(request.query.get("limit"), "limit", 20, 1, 100)
    raw_cursor = request.query.get("cursor")
    cursor = parse_int_param(raw_cursor, "cursor", 0, 1, 10**15) if raw_cursor else None
    events, following = await in_db(request, activity.events, claims.user_id, limit, cursor)
    return web.json_response({"events": [event_json(e) for e in events],
                              "nextCursor": None if following is None else str(following)})
