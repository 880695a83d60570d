"""/api/account/api-keys: create, list and revoke a user's API keys for bots.

Only a signed-in person manages keys (scope `account`, which no key holds). The secret key is in
the creation's answer and nowhere else ever again: the database holds it sealed by the vault
(bound to the user and the key's id) and the key itself only as a hash.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from app.api_keys import (
    KeyRequest,
    allowlist_text,
    key_lookup_hash,
    new_key_string,
    parse_allowlist,
    parse_key_request,
)
from app.clock import now_ms
from app.messaging.auth_notices import key_revoked
from app.persistence.api_keys import KeyListing, TooManyKeys, create_key, list_keys, revoke_key
from app.security.vault import Vault
from web.api_key_auth import note_key_event, seal_secret
from web.app_keys import GUARD, REDIS, SETTINGS, VAULT
from web.auth import require_user
from web.plumbing import client_address, in_db, read_json
from web.problems import Problem

routes = web.RouteTableDef()


def _listing_json(k: KeyListing) -> dict[str, Any]:
    return {"id": k.id, "label": k.label, "permissions": [p for p in k.permissions.split(",") if p],
            "apiKeyLast4": k.last4, "ipAllowlist": [str(n) for n in parse_allowlist(k.ip_allowlist)],
            "createdAt": k.created_at, "expiresAt": k.expires_at, "lastUsedAt": k.last_used_at,
            "lastUsedIp": k.last_used_ip}


def _create(vault: Vault, user_id: int, req: KeyRequest, api_key: str, secret: str, max_keys: int,
            ip: str) -> KeyListing:
    permissions = ",".join(p for p in ("read", "trade", "cfd") if p in req.permissions)
    key_id = create_key(user_id, key_lookup_hash(api_key), api_key[-4:], req.label, permissions,
                        allowlist_text(req.ip_allowlist), req.expires_at,
                        lambda kid: seal_secret(vault, secret, user_id, kid), max_keys)
    note_key_event("key_created", user_id, key_id, ip)
    return next(k for k in list_keys(user_id) if k.id == key_id)


def _revoke(user_id: int, key_id: int, ip: str) -> bool:
    if not revoke_key(user_id, key_id):
        return False
    note_key_event("key_revoked", user_id, key_id, ip)
    return True


@routes.post("/api/account/api-keys")
async def create(request: web.Request) -> web.Response:
    claims = await require_user(request, scope="account")
    req = parse_key_request(await read_json(request), now_ms())
    api_key, secret = new_key_string(), new_key_string()
    max_keys = request.app[SETTINGS].api_keys_per_user
    try:
        made = await in_db(request, _create, request.app[VAULT], claims.user_id, req, api_key, secret, max_keys,
                           client_address(request))
    except TooManyKeys:
        raise Problem(409, f"you already have {max_keys} API keys, the most allowed; revoke one first",
                      code="TOO_MANY_API_KEYS") from None
    return web.json_response({**_listing_json(made), "apiKey": api_key, "secretKey": secret}, status=201)


@routes.get("/api/account/api-keys")
async def list_(request: web.Request) -> web.Response:
    claims = await require_user(request, scope="account")
    keys = await in_db(request, list_keys, claims.user_id)
    return web.json_response({"apiKeys": [_listing_json(k) for k in keys]})


@routes.delete("/api/account/api-keys/{key_id}")
async def revoke(request: web.Request) -> web.Response:
    claims = await require_user(request, scope="account")
    raw = request.match_info["key_id"]
    if not re.fullmatch(r"[0-9]{1,18}", raw) or not await in_db(request, _revoke, claims.user_id, int(raw),
                                                                 client_address(request)):
        raise Problem(404, f"API key {raw[:40]!r} does not exist", code="NOT_FOUND")
    # The database holds the revocation: now every process drops the key and closes its sockets.
    await request.app[GUARD].announce(request.app[REDIS], key_revoked(int(raw)))
    return web.Response(status=204)
