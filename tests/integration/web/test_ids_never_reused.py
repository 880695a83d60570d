"""Ids are never handed out twice, on SQLite and PostgreSQL, even after an operator deletes rows.

SQLite without AUTOINCREMENT gives max(id) + 1, so deleting the newest user let the next
registration take its id: the ledger's genesis references collided (500) and the deleted user's
unexpired token would have become the new user's.
"""

from __future__ import annotations

from typing import Any

from app.domain.ledger import user_free, user_locked
from app.persistence.db import write_transaction
from app.persistence.models import Balance, Fill, LedgerRow, Order, Position, User
from tests.support.helpers import PASSWORD, auth, new_email, open_ws, register


def _delete_user_row(user_id: int) -> None:
    with write_transaction():
        User.delete().where(User.id == user_id).execute()


def _delete_user_and_dependants(user_id: int) -> None:
    accounts = (user_free(user_id), user_locked(user_id))
    with write_transaction():
        LedgerRow.delete().where(LedgerRow.account.in_(accounts)).execute()
        Balance.delete().where(Balance.account.in_(accounts)).execute()
        Position.delete().where(Position.user_id == user_id).execute()
        User.delete().where(User.id == user_id).execute()


async def test_a_registration_after_the_newest_user_row_is_deleted_gets_a_new_id(db_client: Any) -> None:
    _, first = await register(db_client)
    _delete_user_row(first["id"])
    resp = await db_client.post("/auth/register", json={"email": new_email(), "password": PASSWORD})
    assert resp.status == 201, await resp.text()  # main: 500, UNIQUE(ref_type, ref_id, leg) on the ledger
    assert (await resp.json())["user"]["id"] > first["id"]


async def test_a_deleted_users_id_and_token_never_pass_to_the_next_user(db_client: Any) -> None:
    old_token, first = await register(db_client)
    _delete_user_and_dependants(first["id"])
    _, second = await register(db_client)
    assert second["id"] > first["id"]
    me = await db_client.get("/auth/me", headers=auth(old_token))
    assert me.status == 401  # main: 200 with the new user's e-mail


async def test_an_order_after_the_newest_order_is_deleted_gets_a_new_id(db_client: Any) -> None:
    token, _ = await register(db_client)
    ws = await open_ws(db_client, token)
    market = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01"}
    first = await (await db_client.post("/api/trading/orders", json=market, headers=auth(token))).json()
    assert (await ws.order_status(first["orderId"], {"FILLED", "REJECTED"}))["status"] == "FILLED"
    with write_transaction():
        Fill.delete().where(Fill.order_id == first["orderId"]).execute()
        Order.delete().where(Order.id == first["orderId"]).execute()
    resp = await db_client.post("/api/trading/orders", json=market, headers=auth(token))
    assert resp.status == 202, await resp.text()
    second = await resp.json()
    assert second["orderId"] > first["orderId"]  # main (SQLite): the same id again
    assert (await ws.order_status(second["orderId"], {"FILLED", "REJECTED"}))["status"] == "FILLED"
    await ws.close()
