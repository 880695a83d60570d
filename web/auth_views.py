"""POST /auth/register, /auth/login, /auth/refresh, /auth/logout, /auth/logout-all, GET /auth/me.

Every sign-in opens a server-side session (app/persistence/sessions.py) that its short access
token names, with a refresh token that renews it (rotated on every use); signing out ends the
session, so its tokens stop working everywhere at once. The steps the pages share are in
web/sign_in.py.
"""

from __future__ import annotations

from aiohttp import web

from app.accounts import key_last4
from app.persistence.sessions import revoke_other_sessions
from app.persistence.users import user_by_id
from app.render import user_json
from app.schemas import SchemaError, parse_login, parse_register
from web.auth import require_user
from web.plumbing import in_db, read_json
from web.problems import Problem
from web.session import REFRESH_COOKIE, check_csrf, clear_session, set_session
from web.sign_in import Issued, announce, check_credentials, create_user, end_session, note, renew, sign_in

routes = web.RouteTableDef()


@routes.post("/auth/register")
async def register(request: web.Request) -> web.Response:
    email, password, api_key, secret = parse_register(await read_json(request))
    user = await create_user(request, email, password, api_key, secret)
    issued = await sign_in(request, user, "api")
    return web.json_response({**_tokens(issued), "user": user_json(user, api_key[-4:] if api_key else None)},
                             status=201)


@routes.post("/auth/login")
async def login(request: web.Request) -> web.Response:
    email, password = parse_login(await read_json(request))
    user = await check_credentials(request, email, password)
    last4 = await in_db(request, key_last4, user.id)
    issued = await sign_in(request, user, "api")
    return web.json_response({**_tokens(issued), "user": user_json(user, last4)})


def _tokens(issued: Issued) -> dict[str, object]:
    return {"token": issued.access, "refreshToken": issued.refresh, "expiresAt": issued.access_expires_ms,
            "sessionExpiresAt": issued.session_expires_ms}


def only_fields(body: object, allowed: str) -> dict[str, object]:
    """The body as an object holding no field but `allowed` (which may be absent)."""
    if not isinstance(body, dict):
        raise SchemaError("body must be a JSON object")
    for key in body:
        if key != allowed:
            raise SchemaError(f"unknown field {key!r}; allowed: {allowed}", key)
    return body


@routes.post("/auth/refresh")
async def refresh(request: web.Request) -> web.Response:
    """New tokens for a refresh token: `{refreshToken}` in the body (API clients), or the browser's
    refresh cookie (CSRF-checked). The token presented is used up; a used one ends its session."""
    token = None
    if request.body_exists:
        token = only_fields(await read_json(request), "refreshToken").get("refreshToken")
        if token is not None and (type(token) is not str or not 0 < len(token) <= 512):
            raise SchemaError("refreshToken must be the string POST /auth/login returned", "refreshToken")
    if token is not None:
        return web.json_response(_tokens(await renew(request, token)))
    cookie = request.cookies.get(REFRESH_COOKIE)
    if not cookie:
        raise Problem(401, "send refreshToken (or, from a page, the refresh cookie)", code="UNAUTHORIZED",
                      headers={"WWW-Authenticate": "Bearer"})
    check_csrf(request, None)
    issued = await renew(request, cookie[:512])
    response = web.json_response({"expiresAt": issued.access_expires_ms,
                                  "sessionExpiresAt": issued.session_expires_ms})
    set_session(request, response, issued)
    return response


@routes.post("/auth/logout-all")
async def logout_all(request: web.Request) -> web.Response:
    """End every session of the account, or every other one with `{"keepCurrent": true}`."""
    claims = await require_user(request, scope="account")
    keep = only_fields(await read_json(request), "keepCurrent").get("keepCurrent", False) \
        if request.body_exists else False
    if not isinstance(keep, bool):
        raise SchemaError("keepCurrent must be true or false", "keepCurrent")
    ended = await in_db(request, revoke_other_sessions, claims.user_id, claims.sid if keep else None)
    await announce(request, ended, "signed out everywhere")
    await note(request, claims.user_id, "logout_all", {"sessions": str(len(ended)), "kept_current": str(keep).lower()})
    response = web.json_response({"revoked": len(ended)})
    if not keep and "Authorization" not in request.headers:
        clear_session(response)
    return response


@routes.post("/auth/logout")
async def logout(request: web.Request) -> web.Response:
    """End this session (Bearer, or the cookie with its CSRF token); its token gets 401 from now on."""
    claims = await require_user(request, scope="account")
    await end_session(request, claims)
    response = web.Response(status=204)
    if "Authorization" not in request.headers:
        clear_session(response)
    return response


@routes.get("/auth/me")
async def me(request: web.Request) -> web.Response:
    claims = await require_user(request)
    user = await in_db(request, user_by_id, claims.user_id)
    if user is None:
        raise Problem(401, "this account no longer exists; sign in again", code="UNAUTHORIZED")
    last4 = await in_db(request, key_last4, user.id)
    return web.json_response({"user": user_json(user, last4)})
