"""Signing up, in and out at the web edge, shared by the API (web/auth_views.py) and the pages: the
rate limits around the app layer's checks (app/registration.py, app/credentials.py), their refusals
as problems, and the server-side session a sign-in opens (app/persistence/sessions.py) and a
sign-out ends everywhere at once.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from aiohttp import web

from app.credentials import WrongCredentials, check_password, ensure_enabled
from app.messaging.auth_notices import AuthNotice
from app.persistence.sessions import open_session, revoke_session
from app.registration import register_account
from app.security.tokens import Claims, issue
from web.app_keys import CPU_POOL, GUARD, MARKET_DATA, REDIS, SECRETS, SETTINGS, VAULT
from web.login_limits import before_login, before_register, login_failed, login_succeeded
from web.plumbing import client_address, in_db
from web.refusals import refusals_as_problems

if TYPE_CHECKING:
    from app.persistence.models import User


async def sign_in(request: web.Request, user: User, kind: str) -> str:
    """Open a session for `user` and return its token (shared by the API and the pages)."""
    ttl = request.app[SETTINGS].jwt_ttl_seconds
    state = await in_db(request, open_session, user.id, kind, ttl, client_address(request),
                        request.headers.get("User-Agent"))
    request.app[GUARD].remember(state)
    issued_at = state.expires_at / 1000 - ttl  # the token expires with its session
    return issue(request.app[SECRETS]["jwt"], user.id, state.token_version, ttl, issued_at, sid=state.sid)


async def end_session(request: web.Request, claims: Claims, reason: str = "signed out") -> None:
    """End the caller's session in the database, then in every web process (WebSockets close)."""
    await in_db(request, revoke_session, claims.sid)
    await request.app[GUARD].announce(request.app[REDIS], AuthNotice(sid=claims.sid, reason=reason))


async def create_user(request: web.Request, email: str, password: str, api_key: str | None,
                      secret: str | None) -> User:
    """Register an account (shared by the API and the register page); raises Problem."""
    await before_register(request)
    settings = request.app[SETTINGS]
    with refusals_as_problems():
        return await register_account(email, password, api_key, secret, rounds=settings.bcrypt_rounds,
                                      wallet=settings.starting_wallet, vault=request.app[VAULT],
                                      market=request.app[MARKET_DATA], cpu_pool=request.app[CPU_POOL],
                                      in_db=partial(in_db, request))


async def check_credentials(request: web.Request, email: str, password: str) -> User:
    """The user whose password this is (shared by the API and the login page); raises Problem."""
    await before_login(request, email)
    with refusals_as_problems():
        try:
            user = await check_password(email, password, rounds=request.app[SETTINGS].bcrypt_rounds,
                                        cpu_pool=request.app[CPU_POOL], in_db=partial(in_db, request))
        except WrongCredentials:
            await login_failed(request, email)
            raise
        await login_succeeded(request, email)
        ensure_enabled(user)  # said only to whoever knows the password
    return user
