"""The Binance exchange key of an account: stored sealed, replaced in place, removed; on each database."""

from __future__ import annotations

from typing import Any

from app.persistence.models import ExchangeKey
from tests.support.helpers import auth, register


async def test_an_exchange_key_is_stored_replaced_and_removed_on_each_database(db_client: Any) -> None:
    client = db_client
    token, user = await register(client)
    for api_key, secret in (("FirstKeyOfTheUser0001", "FirstSecretOfUser0001"),
                            ("SecondKeyOfTheUser002", "SecondSecretOfUser002")):
        resp = await client.put("/api/account/exchange-key", headers=auth(token),
                                json={"apiKey": api_key, "secretKey": secret})
        assert resp.status == 200, await resp.text()
        assert (await resp.json()) == {"binanceKey": {"apiKeyLast4": api_key[-4:]}}
        shown = await (await client.get("/api/account/exchange-key", headers=auth(token))).json()
        assert shown == {"binanceKey": {"apiKeyLast4": api_key[-4:]}}
    rows = list(ExchangeKey.select().where(ExchangeKey.user_id == user["id"]))
    assert len(rows) == 1 and rows[0].api_key_last4 == "r002"  # replaced in place, never a second row
    assert b"SecondSecretOfUser002" not in bytes(rows[0].secret_enc)
    assert (await client.delete("/api/account/exchange-key", headers=auth(token))).status in (200, 204)
    shown = await (await client.get("/api/account/exchange-key", headers=auth(token))).json()
    assert shown == {"binanceKey": None}
