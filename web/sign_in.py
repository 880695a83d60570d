"""Signing up, in and out at the web edge, shared by the API (web/auth_views.py) and the pages: the
rate limits around the app layer's checks (app/registration.py, app/credentials.py), their refusals
as problems, the server-side session a sign-in opens (app/persistence/sessions.py), its renewal by
rotating refresh tokens, sign-outs that reach every web process at once, and the security activity
each of these leaves (app/persistence/activity.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from aiohttp import web

from app.credentials import AccountDisabled, WrongCredentials, check_password, ensure_enabled
from app.messaging.auth_notices import AuthNotice
from app.persistence import activity
from app.persistence.sessions import RenewOutcome, SessionState, open_session, renew_session, revoke_session
from app.persistence.users import user_by_email
from app.registration import register_account
from app.security.tokens import Claims, issue, new_refresh_token, refresh_hash
from web.app_keys import CPU_POOL, GUARD, MARKET_DATA, REDIS, SECRETS, SETTINGS, VAULT
from web.login_limits import before_login, before_register, login_failed, login_succeeded
from web.plumbing import client_address, in_db
from web.problems import Problem
from web.refusals import refusals_as_problems

if TYPE_CHECKING:
    from app.persistence.models import User


@dataclass(frozen=True, slots=True)
class Issued:
    """What a sign-in or a renewal hands out: a short access token and the next refresh token."""

    access: str
    refresh: str
    access_expires_ms: int
    session_expires_ms: int


def _access_token(request: web.Request, state: SessionState) -> tuple[str, int]:
    """An access token for the session, expiring after ACCESS_TTL_SECONDS or with the session if sooner."""
    now = time.time()
    ttl = max(1, min(request.app[SETTINGS].access_ttl_seconds, int(state.expires_at / 1000 - now)))
    token = issue(request.app[SECRETS]["jwt"], state.user_id, state.token_version, ttl, now, sid=state.sid)
    return token, (int(now) + ttl) * 1000


def _caller(request: web.Request) -> tuple[str, str | None]:
    return client_address(request), request.headers.get("User-Agent")


async def note(request: web.Request, user_id: int | None, kind: str, detail: dict[str, str] | None = None) -> None:
    """One row of security activity about this request's caller (address and user agent)."""
    ip, agent = _caller(request)
    await in_db(request, partial(activity.record, user_id, kind, ip=ip, user_agent=agent, detail=detail))


async def sign_in(request: web.Request, user: User, kind: str) -> Issued:
    """Open a session for `user` and hand out its tokens (shared by the API and the pages)."""
    settings = request.app[SETTINGS]
    ip, agent = _caller(request)
    refresh = new_refresh_token()
    new_address = not await in_db(request, activity.signed_in_from, user.id, ip)
    state = await in_db(request, open_session, user.id, kind, int(settings.session_max_days * 86400), ip, agent,
                        refresh_hash(refresh))
    request.app[GUARD].remember(state)
    await note(request, user.id, "sign_in", {"kind": kind, **({"new_address": "true"} if new_address else {})})
    access, access_expires = _access_token(request, state)
    return Issued(access, refresh, access_expires, state.expires_at)


async def renew(request: web.Request, refresh: str) -> Issued:
    """Rotate a refresh token into new tokens; a token already rotated ends its session (theft)."""
    idle_ms = int(request.app[SETTINGS].session_idle_hours * 3600_000)
    following = new_refresh_token()
    renewal = await in_db(request, renew_session, refresh_hash(refresh), refresh_hash(following), idle_ms)
    if renewal.outcome is RenewOutcome.RENEWED and renewal.state is not None:
        request.app[GUARD].remember(renewal.state)
        access, access_expires = _access_token(request, renewal.state)
        return Issued(access, following, access_expires, renewal.state.expires_at)
    if renewal.outcome is RenewOutcome.REUSED and renewal.state is not None:
        await announce(request, [renewal.state.sid], "a refresh token was used twice")
        await note(request, renewal.state.user_id, "refresh_reuse")
    raise Problem(401, "this refresh token is unknown, used or its session has ended; sign in again",
                  code="UNAUTHORIZED", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


async def announce(request: web.Request, sids: list[str], reason: str) -> None:
    """Sessions the database already holds as ended: drop them here and on every node (sockets close)."""
    for sid in sids:
        await request.app[GUARD].announce(request.app[REDIS], AuthNotice(sid=sid, reason=reason))


async def end_session(request: web.Request, claims: Claims, reason: str = "signed out") -> None:
    """End the caller's session in the database, then in every web process (WebSockets close)."""
    if await in_db(request, revoke_session, claims.sid) is not None:
        await note(request, claims.user_id, "session_revoked", {"reason": reason, "current": "true"})
    await announce(request, [claims.sid], reason)


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
            known = await in_db(request, user_by_email, email)
            await note(request, known.id if known else None, "sign_in_failed",
                       None if known else {"email": email[:100]})
            raise
        await login_succeeded(request, email)
        try:
            ensure_enabled(user)  # said only to whoever knows the password
        except AccountDisabled:
            await note(request, user.id, "sign_in_failed", {"reason": "account disabled"})
            raise
    return user
