"""/static/vendor: the browser libraries installed by npm from package-lock.json (never a CDN).

The binary carries the same files at the same paths under its bundle (`settings.BASE_DIR` is the
bundle's folder when frozen; troupe.spec copies exactly the files listed in VENDOR)."""

from __future__ import annotations

import logging

from aiohttp import web

from settings import BASE_DIR, FROZEN

log = logging.getLogger("troupe.web")
routes = web.RouteTableDef()

MODULES = BASE_DIR / "node_modules"
VENDOR = {
    "lightweight-charts.mjs": MODULES / "lightweight-charts/dist/lightweight-charts.standalone.production.mjs",
    "big.mjs": MODULES / "big.js/big.mjs",
    "swagger-ui-bundle.js": MODULES / "swagger-ui-dist/swagger-ui-bundle.js",  # /docs (web/openapi.py)
    "swagger-ui.css": MODULES / "swagger-ui-dist/swagger-ui.css",
}


def check_installed() -> None:
    missing = [name for name, path in VENDOR.items() if not path.is_file()]
    if missing:
        fix = "rebuild it with `make binary`" if FROZEN else "run `make setup` (npm ci)"
        log.warning("browser libraries missing (%s): the terminal cannot draw; %s", ", ".join(missing), fix)


@routes.get("/static/vendor/{name}")
async def vendor(request: web.Request) -> web.StreamResponse:
    path = VENDOR.get(request.match_info["name"])
    if path is None or not path.is_file():
        raise web.HTTPNotFound()
    kind = "text/css" if path.suffix == ".css" else "text/javascript"
    return web.FileResponse(path, headers={"Content-Type": f"{kind}; charset=utf-8",
                                           "Cache-Control": "public, max-age=3600"})
