"""Browser sessions: the access JWT in an HttpOnly SameSite=Strict cookie, the refresh token in
another one that only `/auth` paths receive, and CSRF checks for both.

A cookie rides along on any request the browser makes, so every state change authenticated by the
cookie must also prove it came from one of our pages: the page carries a CSRF token (double-submit:
it equals the HttpOnly `troupe_csrf` cookie, which another site can neither read nor set), sent
back as the `X-CSRF-Token` header or a `csrf` form field, and any Origin header must be ours.
Bearer-token clients are not exposed to CSRF and need neither.
"""

from __future__ import annotations

import hmac
import math
import secrets
import time
from typing import TYPE_CHECKING

from aiohttp import web

from web.app_keys import SETTINGS
from web.problems import Problem

if TYPE_CHECKING:
    from web.sign_in import Issued

SESSION_COOKIE = "troupe_session"
REFRESH_COOKIE = "troupe_refresh"
REFRESH_PATH = "/auth"  # the refresh token rides only on /auth/refresh, /auth/resume, /auth/logout...
RENEWABLE_COOKIE = "troupe_renewable"  # no secret: tells pages the browser holds a refresh cookie
CSRF_COOKIE = "troupe_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_CSRF_REQUEST_SLOT: web.RequestKey[str] = web.RequestKey("csrf")


def own_origin(request: web.Request) -> str:
    return request.app[SETTINGS].public_origin or f"{request.scheme}://{request.host}"


def origin_ok(request: web.Request) -> bool:
    """True unless the request names an Origin other than ours (non-browser clients send none)."""
    origin = request.headers.get("Origin")
    return origin is None or origin == own_origin(request)


def _secure(request: web.Request) -> bool:
    return request.secure or own_origin(request).startswith("https://")


def csrf_token(request: web.Request) -> str:
    """The token to embed in a page; a fresh one is set as a cookie by `remember_csrf`."""
    token = request.get(_CSRF_REQUEST_SLOT) or request.cookies.get(CSRF_COOKIE)
    if not token or len(token) > 64:
        token = secrets.token_urlsafe(32)
    request[_CSRF_REQUEST_SLOT] = token
    return token


def remember_csrf(request: web.Request, response: web.StreamResponse) -> None:
    token = request.get(_CSRF_REQUEST_SLOT)
    if token and token != request.cookies.get(CSRF_COOKIE):
        response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="Strict", secure=_secure(request), path="/")


def check_csrf(request: web.Request, submitted: str | None) -> None:
    expected = request.cookies.get(CSRF_COOKIE, "")
    given = submitted if submitted is not None else request.headers.get(CSRF_HEADER, "")
    if not origin_ok(request):
        raise Problem(403, "this request came from another site's page", code="CSRF")
    # Header and cookie bytes that are not UTF-8 arrive as surrogate escapes: compare them as bytes too.
    if not expected or not given or not hmac.compare_digest(expected.encode(errors="surrogatepass"),
                                                            given.encode(errors="surrogatepass")):
        raise Problem(403, f"missing or wrong CSRF token: reload the page (scripts send {CSRF_HEADER})", code="CSRF")


def set_session(request: web.Request, response: web.StreamResponse, issued: Issued) -> None:
    """The access token (a cookie living as long as the token) and the refresh token (as long as the session)."""
    now_s = time.time()
    session_left = max(1, math.ceil(issued.session_expires_ms / 1000 - now_s))
    access_left = min(request.app[SETTINGS].access_ttl_seconds, session_left)
    response.set_cookie(SESSION_COOKIE, issued.access, max_age=access_left,
                        httponly=True, samesite="Strict", secure=_secure(request), path="/")
    response.set_cookie(REFRESH_COOKIE, issued.refresh, max_age=session_left,
                        httponly=True, samesite="Strict", secure=_secure(request), path=REFRESH_PATH)
    response.set_cookie(RENEWABLE_COOKIE, "1", max_age=session_left, httponly=True, samesite="Strict",
                        secure=_secure(request), path="/")


def clear_session(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path="/")
    response.del_cookie(REFRESH_COOKIE, path=REFRESH_PATH)
    response.del_cookie(RENEWABLE_COOKIE, path="/")
