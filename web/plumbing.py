"""Request plumbing every handler shares: the strict JSON body, database work off the event loop,
and the client's address (behind TRUSTED_PROXIES)."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from typing import Any, TypeVar

from aiohttp import web

from app.persistence.db import db
from app.schemas import loads
from settings import Network
from web.app_keys import DB_POOL, SETTINGS
from web.problems import Problem

T = TypeVar("T")


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
