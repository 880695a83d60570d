"""API keys for bots (issue 11): created, listed and revoked by a signed-in person; requests signed
as Binance signs them; permissions; the allow-list; recvWindow; revocation at once.

Black-box through HTTP and the WebSocket of a real app (real Redis, real SQLite/PostgreSQL).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from app.api_keys import sign
from app.persistence.models import ApiKey
from app.security.vault import VaultError
from tests.support.helpers import auth, new_api_key, open_ws, register, session_from, signed, signed_call
from web.api_key_auth import API_KEY_HEADER, VAULT_DOMAIN
from web.app_keys import API_KEY_USES, API_KEYS, GUARD, VAULT
from web.ws_hub import SESSION_ENDED

ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}


async def _problem(resp: Any, status: int, code: str) -> dict[str, Any]:
    body = await resp.json()
    assert resp.status == status and body["code"] == code, (resp.status, body)
    return dict(body)


async def _eventually(check: Callable[[], Awaitable[bool]], within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while not await check():
        assert time.monotonic() < deadline, f"not so after {within_s} s"
        await asyncio.sleep(0.05)


async def test_a_key_is_created_shown_once_listed_without_its_secret_and_revoked(db_client: Any) -> None:
    client = db_client
    token, _ = await register(client)
    key = await new_api_key(client, token, ["read", "trade"], ipAllowlist=["127.0.0.0/8"])
    assert len(key["apiKey"]) == 64 and len(key["secretKey"]) == 64 and key["apiKey"].isalnum()
    assert key["permissions"] == ["read", "trade"] and key["apiKeyLast4"] == key["apiKey"][-4:]
    assert key["ipAllowlist"] == ["127.0.0.0/8"] and key["lastUsedAt"] is None
    listed = (await (await client.get("/api/account/api-keys", headers=auth(token))).json())["apiKeys"]
    assert [k["id"] for k in listed] == [key["id"]]
    text = json.dumps(listed)
    assert key["secretKey"] not in text and key["apiKey"] not in text and "secretKey" not in text
    assert listed[0]["apiKeyLast4"] == key["apiKey"][-4:] and listed[0]["label"] == "bot"
    row = ApiKey.get_by_id(key["id"])  # stored: a hash of the key and the sealed secret, never either in clear
    assert key["apiKey"] not in row.key_hash and key["secretKey"].encode() not in bytes(row.secret_enc)
    vault, sealed = client.app[VAULT], bytes(row.secret_enc)  # sealed for this user and this key id only
    assert vault.open(sealed, user_id=row.user_id, exchange=VAULT_DOMAIN, label=f"key:{row.id}") == key["secretKey"]
    for user_id, label in ((row.user_id + 1, f"key:{row.id}"), (row.user_id, f"key:{row.id + 1}")):
        with pytest.raises(VaultError):  # copied onto another user's row, or another key's: it does not open
            vault.open(sealed, user_id=user_id, exchange=VAULT_DOMAIN, label=label)

    resp = await signed_call(client, "GET", "/api/trading/balances", key)
    assert resp.status == 200, await resp.text()
    assert (await client.delete(f"/api/account/api-keys/{key['id']}", headers=auth(token))).status == 204
    await _problem(await signed_call(client, "GET", "/api/trading/balances", key), 401, "UNAUTHORIZED")
    assert (await (await client.get("/api/account/api-keys", headers=auth(token))).json())["apiKeys"] == []
    again = await client.delete(f"/api/account/api-keys/{key['id']}", headers=auth(token))
    await _problem(again, 404, "NOT_FOUND")


async def test_a_read_key_may_read_but_not_place_or_cancel_orders(client: Any) -> None:
    token, _ = await register(client)
    key = await new_api_key(client, token, ["read"])
    assert (await signed_call(client, "GET", "/api/trading/orders", key, query="limit=5")).status == 200
    refused = await _problem(await signed_call(client, "POST", "/api/trading/orders", key, ORDER), 403,
                             "MISSING_PERMISSION")
    assert "'trade'" in refused["detail"]
    placed = await client.post("/api/trading/orders", headers=auth(token), json=ORDER)
    assert placed.status == 202
    order_id = (await placed.json())["orderId"]
    cancel = await signed_call(client, "DELETE", f"/api/trading/orders/{order_id}", key)
    assert "'trade'" in (await _problem(cancel, 403, "MISSING_PERMISSION"))["detail"]
    oco = await signed_call(client, "POST", "/api/trading/orderList/oco", key, {"symbol": "BTCUSDT"})
    await _problem(oco, 403, "MISSING_PERMISSION")
    cfd = await signed_call(client, "POST", "/api/cfd/transfer", key, {"direction": "TO_MARGIN", "amount": "1"})
    assert "'cfd'" in (await _problem(cfd, 403, "MISSING_PERMISSION"))["detail"]
    assert (await signed_call(client, "GET", "/api/cfd/account", key)).status == 200


async def test_a_trade_key_places_and_cancels_and_a_cfd_key_uses_the_desk(client: Any) -> None:
    token, _ = await register(client)
    trader = await new_api_key(client, token, ["read", "trade"])
    placed = await signed_call(client, "POST", "/api/trading/orders", trader,
                               {**ORDER, "type": "LIMIT", "quantity": "0.01", "price": "1000", "timeInForce": "GTC"})
    assert placed.status == 202, await placed.text()
    order_id = (await placed.json())["orderId"]
    assert (await signed_call(client, "DELETE", f"/api/trading/orders/{order_id}", trader)).status == 202
    await _problem(await signed_call(client, "POST", "/api/cfd/transfer", trader,
                                     {"direction": "TO_MARGIN", "amount": "1"}), 403, "MISSING_PERMISSION")
    desk = await new_api_key(client, token, ["cfd"])
    moved = await signed_call(client, "POST", "/api/cfd/transfer", desk, {"direction": "TO_MARGIN", "amount": "1"})
    assert moved.status in (200, 201), await moved.text()
    # A key without `read` reads nothing, not even through a GET under the desk.
    assert "'read'" in (await _problem(await signed_call(client, "GET", "/api/cfd/account", desk), 403,
                                       "MISSING_PERMISSION"))["detail"]


async def test_no_key_manages_keys_sessions_or_the_password(client: Any) -> None:
    token, _ = await register(client)
    key = await new_api_key(client, token, ["read", "trade", "cfd"])
    for method, path, body in (("GET", "/api/account/api-keys", None),
                               ("POST", "/api/account/api-keys", {"label": "x", "permissions": ["read"]}),
                               ("DELETE", f"/api/account/api-keys/{key['id']}", None),
                               ("GET", "/api/account/exchange-key", None),
                               ("DELETE", "/api/account/exchange-key", None),
                               ("GET", "/auth/me", None),
                               ("POST", "/auth/logout", None)):
        refused = await _problem(await signed_call(client, method, path, key, body), 403, "MISSING_PERMISSION")
        assert "'account'" in refused["detail"], (method, path)
    assert (await signed_call(client, "GET", "/api/trading/balances", key)).status == 200  # still alive


async def test_a_signature_over_a_tampered_body_or_query_is_refused(client: Any) -> None:
    token, _ = await register(client)
    key = await new_api_key(client, token, ["read", "trade"])
    body = json.dumps(ORDER).encode()
    suffix, headers = signed(key["apiKey"], key["secretKey"], "", body)
    tampered = body.replace(b"0.001", b"0.002")
    resp = await client.post("/api/trading/orders" + suffix, data=tampered,
                             headers={**headers, "Content-Type": "application/json"})
    await _problem(resp, 401, "INVALID_SIGNATURE")
    suffix, headers = signed(key["apiKey"], key["secretKey"], "limit=5")
    await _problem(await client.get("/api/trading/orders" + suffix.replace("limit=5", "limit=6"), headers=headers),
                   401, "INVALID_SIGNATURE")
    wrong_secret = {**key, "secretKey": "x" * 64}
    await _problem(await signed_call(client, "GET", "/api/trading/balances", wrong_secret), 401, "INVALID_SIGNATURE")
    unknown = {**key, "apiKey": "A" * 64}
    await _problem(await signed_call(client, "GET", "/api/trading/balances", unknown), 401, "UNAUTHORIZED")
    # The signature must be the last parameter, and there must be one.
    stamp = int(time.time() * 1000)
    sig = sign(key["secretKey"], f"timestamp={stamp}".encode())
    late = await client.get(f"/api/trading/balances?signature={sig}&timestamp={stamp}",
                            headers={API_KEY_HEADER: key["apiKey"]})
    assert late.status == 400 and (await late.json())["field"] in ("signature", "timestamp")
    bare = await client.get(f"/api/trading/balances?timestamp={stamp}", headers={API_KEY_HEADER: key["apiKey"]})
    assert (await _problem(bare, 400, "BAD_REQUEST"))["field"] == "signature"
    assert (await signed_call(client, "POST", "/api/trading/orders", key, ORDER)).status == 202


async def test_recv_window_edges(client: Any) -> None:
    token, _ = await register(client)
    key = await new_api_key(client, token, ["read"])

    async def at(offset_ms: int, window: int | None = None) -> Any:
        return await signed_call(client, "GET", "/api/trading/balances", key,
                                 timestamp=int(time.time() * 1000) + offset_ms, recv_window=window)

    assert (await at(-4000)).status == 200  # inside the default 5000 ms
    await _problem(await at(-6000), 401, "OUTSIDE_RECV_WINDOW")
    assert (await at(-59_000, 60_000)).status == 200  # the widest window
    assert (await at(-1000, 2000)).status == 200
    await _problem(await at(-3000, 2000), 401, "OUTSIDE_RECV_WINDOW")
    assert (await at(500)).status == 200  # a client clock slightly ahead: up to a second
    await _problem(await at(3000), 401, "OUTSIDE_RECV_WINDOW")
    for window in (60_001, 0):
        assert (await _problem(await at(0, window), 400, "BAD_REQUEST"))["field"] == "recvWindow"
    stamp = "timestamp=12ab"
    resp = await client.get(f"/api/trading/balances?{stamp}&signature={sign(key['secretKey'], stamp.encode())}",
                            headers={API_KEY_HEADER: key["apiKey"]})
    assert (await _problem(resp, 400, "BAD_REQUEST"))["field"] == "timestamp"


async def test_the_ip_allowlist(client: Any) -> None:
    token, _ = await register(client)
    only_two = await new_api_key(client, token, ["read"], ipAllowlist=["127.0.0.2"])
    net = await new_api_key(client, token, ["read"], ipAllowlist=["127.0.0.0/30", "::1"])
    await _problem(await signed_call(client, "GET", "/api/trading/balances", only_two), 401, "ADDRESS_NOT_ALLOWED")
    assert (await signed_call(client, "GET", "/api/trading/balances", net)).status == 200
    async with session_from(client, "127.0.0.2") as from_two:
        assert (await signed_call(from_two, "GET", "/api/trading/balances", only_two)).status == 200
    async with session_from(client, "127.0.0.9") as from_nine:
        await _problem(await signed_call(from_nine, "GET", "/api/trading/balances", net), 401, "ADDRESS_NOT_ALLOWED")


async def test_an_expired_key_is_refused(client: Any) -> None:
    token, _ = await register(client)
    key = await new_api_key(client, token, ["read"], expiresAt=int(time.time() * 1000) + 1500)
    assert (await signed_call(client, "GET", "/api/trading/balances", key)).status == 200

    async def refused() -> bool:
        return (await signed_call(client, "GET", "/api/trading/balances", key)).status == 401
    await _eventually(refused, 5)


async def test_creation_is_strict_and_capped_at_twenty(client: Any) -> None:
    token, _ = await register(client)
    for body, field in (({"label": "x", "permissions": []}, "permissions"),
                        ({"label": "x", "permissions": ["read", "read"]}, "permissions"),
                        ({"label": "x", "permissions": ["account"]}, "permissions"),
                        ({"label": "", "permissions": ["read"]}, "label"),
                        ({"label": "x", "permissions": ["read"], "ipAllowlist": ["not-an-ip"]}, "ipAllowlist"),
                        ({"label": "x", "permissions": ["read"], "expiresAt": 1}, "expiresAt"),
                        ({"label": "x", "permissions": ["read"], "expiresAt": "99999999999999"}, "expiresAt"),
                        ({"label": "x", "permissions": ["read"], "admin": True}, "admin")):
        resp = await client.post("/api/account/api-keys", headers=auth(token), json=body)
        assert (await _problem(resp, 400, "BAD_REQUEST"))["field"] == field, body
    keys = [await new_api_key(client, token, ["read"]) for _ in range(20)]
    await _problem(await client.post("/api/account/api-keys", headers=auth(token),
                                     json={"label": "x", "permissions": ["read"]}), 409, "TOO_MANY_API_KEYS")
    assert (await client.delete(f"/api/account/api-keys/{keys[0]['id']}", headers=auth(token))).status == 204
    await new_api_key(client, token, ["read"])  # a revoked key no longer counts


async def test_another_user_can_neither_see_nor_revoke_my_key(client: Any) -> None:
    mine, _ = await register(client)
    theirs, _ = await register(client)
    key = await new_api_key(client, mine, ["read"])
    assert (await (await client.get("/api/account/api-keys", headers=auth(theirs))).json())["apiKeys"] == []
    await _problem(await client.delete(f"/api/account/api-keys/{key['id']}", headers=auth(theirs)), 404, "NOT_FOUND")
    await _problem(await client.delete("/api/account/api-keys/x1", headers=auth(mine)), 404, "NOT_FOUND")
    assert (await signed_call(client, "GET", "/api/trading/balances", key)).status == 200


async def test_a_verified_key_costs_no_database_query_and_its_use_is_written_rarely(client: Any) -> None:
    token, _ = await register(client)
    key = await new_api_key(client, token, ["read"])
    assert (await signed_call(client, "GET", "/api/trading/balances", key)).status == 200
    cache, guard = client.app[API_KEYS], client.app[GUARD]
    await client.app[API_KEY_USES].drain()
    row = ApiKey.get_by_id(key["id"])
    assert row.last_used_ip == "127.0.0.1" and row.last_used_at is not None
    loads, guard_loads = cache.loads, guard.loads
    for _ in range(20):
        assert (await signed_call(client, "GET", "/api/trading/balances", key)).status == 200
    await client.app[API_KEY_USES].drain()
    assert cache.loads == loads and guard.loads == guard_loads, "a cached key is never read back per request"
    assert ApiKey.get_by_id(key["id"]).last_used_at == row.last_used_at, "use is written at most once a minute"
    listed = (await (await client.get("/api/account/api-keys", headers=auth(token))).json())["apiKeys"][0]
    assert listed["lastUsedIp"] == "127.0.0.1" and listed["lastUsedAt"] == row.last_used_at
    async with session_from(client, "127.0.0.3") as elsewhere:  # a new address is written at once
        assert (await signed_call(elsewhere, "GET", "/api/trading/balances", key)).status == 200
    await client.app[API_KEY_USES].drain()
    assert ApiKey.get_by_id(key["id"]).last_used_ip == "127.0.0.3"


async def test_a_key_opens_a_websocket_that_closes_when_the_key_is_revoked(client: Any) -> None:
    token, _ = await register(client)
    key = await new_api_key(client, token, ["read"])
    other = await open_ws(client, token)  # the person's own session stays open
    resp = await signed_call(client, "POST", "/api/ws-ticket", key)
    assert resp.status == 200, await resp.text()
    ws = await client.ws_connect(f"/ws?ticket={(await resp.json())['ticket']}")
    assert (await ws.receive_json())["type"] == "SNAPSHOT"
    assert (await client.delete(f"/api/account/api-keys/{key['id']}", headers=auth(token))).status == 204
    async with asyncio.timeout(2):
        while (msg := await ws.receive()).type is aiohttp.WSMsgType.TEXT:
            pass
    assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, SESSION_ENDED) and "revoked" in str(msg.extra)
    await other.send({"type": "ping"})
    assert (await other.wait_for(lambda m: m["type"] == "pong"))["type"] == "pong"
    await _problem(await signed_call(client, "POST", "/api/ws-ticket", key), 401, "UNAUTHORIZED")


async def test_concurrent_creations_never_pass_the_cap(db_client: Any) -> None:
    client = db_client
    token, _ = await register(client)
    answers = await asyncio.gather(*(client.post("/api/account/api-keys", headers=auth(token),
                                                 json={"label": f"k{i}", "permissions": ["read"]})
                                     for i in range(26)))
    assert sorted(r.status for r in answers) == [201] * 20 + [409] * 6
    assert len((await (await client.get("/api/account/api-keys", headers=auth(token))).json())["apiKeys"]) == 20


async def test_a_keys_life_is_in_the_security_activity(client: Any) -> None:
    token, _ = await register(client)
    key = await new_api_key(client, token, ["read"])
    assert (await signed_call(client, "GET", "/api/trading/balances", key)).status == 200
    await client.app[API_KEY_USES].drain()
    assert (await client.delete(f"/api/account/api-keys/{key['id']}", headers=auth(token))).status == 204
    events = (await (await client.get("/api/account/activity", headers=auth(token))).json())["events"]
    kinds = [e["kind"] for e in events if e["kind"].startswith("key_")]
    assert kinds == ["key_revoked", "key_used_from_new_address", "key_created"]  # newest first
    assert all(e["ip"] == "127.0.0.1" for e in events if e["kind"].startswith("key_"))
    assert key["secretKey"] not in json.dumps(events) and key["apiKey"] not in json.dumps(events)
