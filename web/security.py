"""Authentication of requests, security headers, and the helpers handlers share."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from typing import Any, TypeVar

from aiohttp import web

from app.persistence.db import db
from app.schemas import loads
from app.security.tokens import Claims, TokenError
from settings import Network
from web.app_keys import DB_POOL, GUARD, SETTINGS, TOKENS
from web.auth_guard import SessionEnded
from web.problems import Problem
from web.session import SAFE_METHODS, SESSION_COOKIE, check_csrf

T = TypeVar("T")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.path.startswith(("/api/", "/auth/")):
        h.setdefault("Cache-Control", "no-store")


async def require_user(request: web.Request) -> Claims:
    """The caller's claims from `Authorization: Bearer`, or from the session cookie (CSRF-checked).

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


async def read_json(request: web.Request) -> Any:
    """The request body as strict JSON; only application/json is accepted (no form posts: CSRF)."""
    if request.content_type != "application/json":
        raise Problem(415, "send the body as application/json", code="UNSUPPORTED_MEDIA_TYPE")
    return loads(await request.read())


async def in_db(request: web.Request, fn: Callable[..., T], *args: Any) -> T:
    """Run a database function on the read/write pool, never on the event loop."""
    return await in_pool(request.app[DB_POOL], fn, *args)


async def in_pool(pool: Executor, fn: Callable[..., T], *args: Any) -> T:
    def call() -> T:
        db.connect(reuse_if_open=True)
        return fn(*args)
    return await asyncio.get_running_loop().run_in_executor(pool, call)


def client_address(request: web.Request) -> str:
    """The caller's IP address: the direct peer, or what X-Forwarded-For says when the peer is one
    of TRUSTED_PROXIES (every address limit keys on this; nothing else reads the header)."""
    return forwarded_client(request.remote, request.headers.getall("X-Forwarded-For", ()),
                            request.app[SETTINGS].trusted_proxies)


def forwarded_client(peer: str | None, forwarded_for: Iterable[str], trusted: tuple[Network, ...]) -> str:
    """The rightmost address of the chain peer <- X-Forwarded-For that is not a trusted proxy.

    Only proxies we trust append truthfully, so the walk goes right to left and stops at the first
    hop we do not trust; whatever lies left of it is the client's to invent. A malformed hop ends
    the walk at the last proxy we trusted.
    """
    if not peer:
        return "unknown"
    client = _ip(peer)
    if client is None:
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    while _trusted(client, trusted) and hops:
        hop = _ip(hops.pop())
        if hop is None:
            break
        client = hop
    return str(client)


def _ip(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address, trusted: tuple[Network, ...]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)
