"""The HTTP + JWT ceiling server for bench/order_path.py: a bare aiohttp process, bench-only.

It answers `POST /noop` after doing what every authenticated Troupe POST does before any work:
verify the bearer JWT with `app.security.tokens` and parse the body with the strict loader. The
order path's throughput is measured against this figure, so the product needs no no-op route.
It prints one JSON line, {"url", "token"}: its address and a token minted as Troupe mints them.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import sys
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.schemas import SchemaError, loads
from app.security.tokens import TokenCache, TokenError, issue

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


async def serve() -> None:
    secret = secrets.token_hex(32)
    app = web.Application(client_max_size=64 * 1024)
    app[TOKENS] = TokenCache(secret)
    app.router.add_post("/noop", noop)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    token = issue(secret, 1, 0, 3600, sid="bench")
    print(json.dumps({"url": f"http://127.0.0.1:{runner.addresses[0][1]}", "token": token}), flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve())
