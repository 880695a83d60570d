"""The HTTP + JWT ceiling server for bench/order_path.py: a bare aiohttp process, bench-only.

It answers `POST /noop` after doing what every authenticated Troupe POST does before any work:
verify the bearer JWT with `app.security.tokens` and parse the body with the strict loader. The
order path's throughput is measured against this figure, so the product needs no no-op route.
It prints one JSON line, {"url", "token"}: its address and a token minted as Troupe mints them.
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.schemas import SchemaError, loads
from app.security.tokens import TokenCache, TokenError, issue
from bench import bare

TOKENS = web.AppKey("tokens", TokenCache)


async def noop(request: web.Request) -> web.Response:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    try:
        if scheme.lower() != "bearer":
            raise TokenError("no bearer token")
        request.app[TOKENS].verify(token.strip())
    except TokenError as exc:
        return web.json_response({"detail": str(exc)}, status=401)
    try:
        loads(await request.read())
    except SchemaError as exc:
        return web.json_response({"detail": exc.message}, status=400)
    return web.json_response({"ok": True})


def build() -> tuple[web.Application, dict[str, Any]]:
    secret = secrets.token_hex(32)
    app = web.Application(client_max_size=64 * 1024)
    app[TOKENS] = TokenCache(secret)
    app.router.add_post("/noop", noop)
    return app, {"token": issue(secret, 1, 0, 3600, sid="bench")}


if __name__ == "__main__":
    bare.run(build)
