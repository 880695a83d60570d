"""POST /auth/register, POST /auth/login, GET /auth/me."""

from __future__ import annotations

import asyncio

from aiohttp import web

from app.accounts import EmailTaken, key_last4, open_account
from app.persistence.models import User
from app.schemas import parse_login, parse_register, user_json
from app.security.passwords import PasswordPolicyError, check_policy, hash_password, verify_password
from app.security.tokens import issue
from web.keys import CPU_POOL, SECRETS, SETTINGS, VAULT
from web.login_limits import before_login, before_register, login_failed, login_succeeded
from web.market_views import marks as market_marks
from web.problems import Problem
from web.security import in_db, read_json, require_user

routes = web.RouteTableDef()


def token_for(request: web.Request, user: User) -> str:
    s = request.app[SETTINGS]
    return issue(request.app[SECRETS]["jwt"], user.id, user.token_version, s.jwt_ttl_seconds)


async def create_user(request: web.Request, email: str, password: str, api_key: str | None,
                      secret: str | None) -> User:
    """Register an account (shared by the API and the register page); raises Problem."""
    await before_register(request)
    try:
        check_policy(password)
    except PasswordPolicyError as exc:
        raise Problem(400, str(exc), code="BAD_REQUEST", field="password") from None
    settings = request.app[SETTINGS]
    loop = asyncio.get_running_loop()
    hashed = await loop.run_in_executor(request.app[CPU_POOL], hash_password, password, settings.bcrypt_rounds)
    marks = await market_marks(request.app)
    try:
        return await in_db(request, open_account, email, hashed, settings.starting_wallet, marks,
                           request.app[VAULT], api_key, secret)
    except EmailTaken:
        raise Problem(409, "that e-mail address is already registered; sign in instead", code="EMAIL_TAKEN",
                      field="email") from None


async def check_credentials(request: web.Request, email: str, password: str) -> User:
    """The user whose password this is (shared by the API and the login page); raises Problem."""
    await before_login(request, email)
    user = await in_db(request, User.get_or_none, User.email == email)
    ok = await asyncio.get_running_loop().run_in_executor(
        request.app[CPU_POOL], verify_password, password, user.password_hash if user else None,
        request.app[SETTINGS].bcrypt_rounds)
    if not ok or user is None:
        await login_failed(request, email)
        raise Problem(401, "wrong e-mail or password", code="INVALID_CREDENTIALS")
    await login_succeeded(request, email)
    return user


@routes.post("/auth/register")
async def register(request: web.Request) -> web.Response:
    email, password, api_key, secret = parse_register(await read_json(request))
    user = await create_user(request, email, password, api_key, secret)
    return web.json_response({"token": token_for(request, user),
                              "user": user_json(user, api_key[-4:] if api_key else None)}, status=201)


@routes.post("/auth/login")
async def login(request: web.Request) -> web.Response:
    email, password = parse_login(await read_json(request))
    user = await check_credentials(request, email, password)
    last4 = await in_db(request, key_last4, user.id)
    return web.json_response({"token": token_for(request, user), "user": user_json(user, last4)})


@routes.get("/auth/me")
async def me(request: web.Request) -> web.Response:
    claims = require_user(request)
    user = await in_db(request, User.get_or_none, User.id == claims.user_id)
    if user is None or user.token_version != claims.token_version:
        raise Problem(401, "this account no longer accepts that token; sign in again", code="UNAUTHORIZED")
    last4 = await in_db(request, key_last4, user.id)
    return web.json_response({"user": user_json(user, last4)})
