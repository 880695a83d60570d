"""Server-rendered pages."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from web.keys import RUNTIME

routes = web.RouteTableDef()


@routes.get("/")
@aiohttp_jinja2.template("index.html")
async def index(request: web.Request) -> dict[str, Any]:
    return {"symbols": list(request.app[RUNTIME].specs)}
