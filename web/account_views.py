"""/api/account/exchange-key: add, replace or remove the user's Binance testnet keys.

Keys are sealed by the vault before they reach the database and are never returned: only the last
four characters of the API key come back, to tell keys apart.
"""

from __future__ import annotations

from aiohttp import web

from app.accounts import key_last4, remove_exchange_key, replace_exchange_key
from app.schemas import parse_exchange_key
from web.app_keys import VAULT
from web.auth import require_user
from web.plumbing import in_db, read_json
from web.problems import Problem

routes = web.RouteTableDef()


def key_json(last4: str | None) -> dict[str, object]:
    return {"binanceKey": None if last4 is None else {"apiKeyLast4": last4}}


@routes.get("/api/account/exchange-key")
async def get_key(request: web.Request) -> web.Response:
    claims = await require_user(request, scope="account")
    return web.json_response(key_json(await in_db(request, key_last4, claims.user_id)))


@routes.put("/api/account/exchange-key")
async def put_key(request: web.Request) -> web.Response:
    claims = await require_user(request, scope="account")
    api_key, secret = parse_exchange_key(await read_json(request))
    await in_db(request, replace_exchange_key, request.app[VAULT], claims.user_id, api_key, secret)
    return web.json_response(key_json(api_key[-4:]))


@routes.delete("/api/account/exchange-key")
async def delete_key(request: web.Request) -> web.Response:
    claims = await require_user(request, scope="account")
    if not await in_db(request, remove_exchange_key, claims.user_id):
        raise Problem(404, "there are no exchange keys to remove", code="NOT_FOUND")
    return web.Response(status=204)
