"""Who is calling: the bearer token or the session cookie (CSRF-checked), verified against its
signature and expiry and against the session guard (is its session still alive)."""

from __future__ import annotations

from aiohttp import web

from app.security.tokens import Claims, TokenError
from web.app_keys import GUARD, TOKENS
from web.auth_guard import SessionEnded
from web.problems import Problem
from web.session import SAFE_METHODS, SESSION_COOKIE, check_csrf


async def require_user(request: web.Request, scope: str = "read") -> Claims:
    """The caller's claims from `Authorization: Bearer`, or from the session cookie (CSRF-checked).

    `scope` ("read", "trade", "cfd", "account") is what the route needs; a session token holds every
    scope (API keys, which never hold "account", are checked against it).

    The token must be genuine and unexpired, and its session alive: not signed out, its account
    neither disabled nor deleted (web/auth_guard.py answers that from memory).
    """
    header = request.headers.get("Authorization")
    if header is None and (cookie := request.cookies.get(SESSION_COOKIE)):
        if request.method not in SAFE_METHODS:
            check_csrf(request, None)
        return await _verify(request, cookie)
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Problem(401, "sign in first: send Authorization: Bearer <token>", code="UNAUTHORIZED",
                      headers={"WWW-Authenticate": "Bearer"})
    return await _verify(request, token.strip())


async def session_user(request: web.Request) -> Claims | None:
    """The signed-in browser user for a page, or None (pages redirect to the login form)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    try:
        return await _verify(request, cookie)
    except Problem:
        return None


async def _verify(request: web.Request, token: str) -> Claims:
    try:
        claims = request.app[TOKENS].verify(token)
    except TokenError:
        raise Problem(401, "the token is invalid or expired; sign in again", code="UNAUTHORIZED",
                      headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None
    try:
        await request.app[GUARD].check(claims)
    except SessionEnded:
        raise Problem(401, "this session has ended (signed out, or the account is disabled); sign in again",
                      code="UNAUTHORIZED", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None
    return claims
