"""The latency floor for bench/order_latency.py: a bare aiohttp process, bench-only.

It speaks just enough of Troupe's API for the same client code to drive it (register → token,
ws-ticket, `/ws`, `POST /api/trading/orders`), and for an order it does only what no trading
system can skip: verify the bearer JWT, parse the body strictly, answer 202 and push one
`ORDER_UPDATE` FILLED frame on the user's WebSocket. No Redis, no database, no actors: what is
left of a latency figure on this machine once the platform is taken away.
It prints one JSON line, {"url"}.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.schemas import SchemaError, loads
from app.security.tokens import TokenCache, TokenError, issue
from bench import bare


class Floor:
    def __init__(self) -> None:
        self.secret = secrets.token_hex(32)
        self.tokens = TokenCache(self.secret)
        self.users = itertools.count(1)
        self.orders = itertools.count(1)
        self.tickets: dict[str, int] = {}
        self.sockets: dict[int, web.WebSocketResponse] = {}

    def user_of(self, request: web.Request) -> int:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            raise web.HTTPUnauthorized(text='{"detail":"no bearer token"}', content_type="application/json")
        try:
            return self.tokens.verify(token.strip()).user_id
        except TokenError as exc:
            raise web.HTTPUnauthorized(text=json.dumps({"detail": str(exc)}), content_type="application/json") \
                from None

    async def register(self, request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"token": issue(self.secret, next(self.users), 0, 3600, sid="floor")}, status=201)

    async def ticket(self, request: web.Request) -> web.Response:
        ticket = secrets.token_urlsafe(16)
        self.tickets[ticket] = self.user_of(request)
        return web.json_response({"ticket": ticket})

    async def ws(self, request: web.Request) -> web.WebSocketResponse:
        user = self.tickets.pop(request.query.get("ticket", ""), None)
        if user is None:
            raise web.HTTPUnauthorized()
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets[user] = ws
        async for _ in ws:
            pass
        self.sockets.pop(user, None)
        return ws

    async def order(self, request: web.Request) -> web.Response:
        user = self.user_of(request)
        try:
            loads(await request.read())
        except SchemaError as exc:
            return web.json_response({"detail": exc.message}, status=400)
        order_id = next(self.orders)
        ws = self.sockets.get(user)
        if ws is not None:  # queued on the socket before the answer, as an executor may beat the reply
            asyncio.get_running_loop().create_task(ws.send_str(json.dumps(
                {"type": "ORDER_UPDATE", "orderId": order_id, "status": "FILLED"}, separators=(",", ":"))))
        return web.json_response({"orderId": order_id, "status": "PENDING"}, status=202)


def build() -> tuple[web.Application, dict[str, Any]]:
    floor = Floor()
    app = web.Application(client_max_size=64 * 1024)
    app.router.add_post("/auth/register", floor.register)
    app.router.add_post("/api/ws-ticket", floor.ticket)
    app.router.add_get("/ws", floor.ws)
    app.router.add_post("/api/trading/orders", floor.order)
    return app, {}


if __name__ == "__main__":
    bare.run(build)
