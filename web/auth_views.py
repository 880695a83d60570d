"""POST /auth/register, POST /auth/login, POST /auth/logout, GET /auth/me.

Every sign-in opens a server-side session (app/persistence/sessions.py) that its token names;
signing out ends the session, so its token stops working everywhere at once. The steps the pages
share are in web/sign_in.py.
"""

from __future__ import annotations

from aiohttp import web

from app.accounts import key_last4
from app.persistence.users import user_by_id
from app.render import user_json
from app.schemas import parse_login, parse_register
from web.auth import require_user
from web.plumbing import in_db, read_json
from web.problems import Problem
from web.session import clear_session
from web.sign_in import check_credentials, create_user, end_session, sign_in

routes = web.RouteTableDef()


@routes.post("/auth/register")
async def register(request: web.Request) -> web.Response:
    email, password, api_key, secret = parse_register(await read_json(request))
    user = await create_user(request, email, password, api_key, secret)
    return web.json_response({"token": await sign_in(request, user, "api"),
                              "user": user_json(user, api_key[-4:] if api_key else None)}, status=201)


@routes.post("/auth/login")
async def login(request: web.Request) -> web.Response:
    email, password = parse_login(await read_json(request))
    user = await check_credentials(request, email, password)
    last4 = await in_db(request, key_last4, user.id)
    return web.json_response({"token": await sign_in(request, user, "api"), "user": user_json(user, last4)})


@routes.post("/auth/logout")
async def logout(request: web.Request) -> web.Response:
    """End this session (Bearer, or the cookie with its CSRF token); its token gets 401 from now on."""
    claims = await require_user(request)
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
