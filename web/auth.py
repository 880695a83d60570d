"""Who is calling: the bearer token or the session cookie (CSRF-checked), verified against its
signature and expiry and against the session guard (is its session still alive); or a bot's API
key, whose request is signed as Binance's are (web/api_key_auth.py) and which holds only the
scopes its permissions grant, never `account`."""

from __future__ import annotations

from aiohttp import web

from app.api_keys import SCOPES, SignedRequestError, key_id_of_sid, missing_permission, scope_for
from app.security.tokens import Claims, TokenError
from web.api_key_auth import API_KEY_HEADER, key_alive, verify_signed
from web.app_keys import API_KEY_USES, API_KEYS, GUARD, TOKENS
from web.auth_guard import SessionEnded
from web.plumbing import client_address
from web.problems import Problem
from web.session import SAFE_METHODS, SESSION_COOKIE, check_csrf


async def require_user(request: web.Request, scope: str = "read") -> Claims:
    """The caller's claims from `Authorization: Bearer`, from the session cookie (CSRF-checked), or
    from a request signed with an API key (`X-MBX-APIKEY`).

    `scope` ("read", "trade", "cfd", "account") is what the route needs. The token must be genuine
    and unexpired, and its session alive: not signed out, its account neither disabled nor deleted
    (web/auth_guard.py answers that from memory). A session token holds every scope; a key must hold
    the route's `scope` and the one its method and path imply (app/api_keys.scope_for), so a route
    that forgot to declare one is still guarded. No key ever holds "account".
    """
    assert scope in SCOPES, scope
    api_key = request.headers.get(API_KEY_HEADER)
    if api_key is not None:
        return await _verify_key(request, api_key, scope)
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


async def _verify_key(request: web.Request, api_key: str, scope: str) -> Claims:
    try:
        claims = await verify_signed(request.app[API_KEYS], request.app[API_KEY_USES], request, api_key,
                                     client_address(request))
    except SignedRequestError as exc:
        headers = {"WWW-Authenticate": "X-MBX-APIKEY"} if exc.status == 401 else None
        raise Problem(exc.status, exc.message, code=exc.code, field=exc.field, headers=headers) from None
    missing = missing_permission(claims.permissions or frozenset(), scope, scope_for(request.method, request.path))
    if missing == "account":
        raise Problem(403, "missing permission 'account': API keys never manage keys, sessions or the password; "
                      "sign in with the password for that", code="MISSING_PERMISSION")
    if missing is not None:
        raise Problem(403, f"missing permission {missing!r}: this API key may not do this; create a key with "
                      f"the {missing!r} permission", code="MISSING_PERMISSION")
    return claims


async def alive_until(request: web.Request, claims: Claims) -> float:
    """When the session (or API key) `claims` came from ends (epoch s); SessionEnded if it has."""
    if key_id_of_sid(claims.sid) is not None:
        if not await key_alive(request.app[API_KEYS], claims):
            raise SessionEnded(claims.sid)
        return float(claims.exp)
    return (await request.app[GUARD].check(claims)).expires_at / 1000
