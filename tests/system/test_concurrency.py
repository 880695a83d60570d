"""1,000 concurrent orders against an account that can afford 100: never overdrawn. Concurrent registrations,
which all book from the one genesis account: none fails, none books over another."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

from app.domain.ledger import HOUSE_GENESIS, user_free, user_locked
from app.persistence.models import Balance, Order
from tests.support.apps import drop_keys, make_settings
from tests.support.helpers import PASSWORD, auth, new_email, open_ws, register
from tests.support.invariants import check_ledger, check_orders
from web.app import create_app

N = 1000


async def test_thousand_concurrent_orders_never_overdraw(aiohttp_client: Any, tmp_path: Path, database_url: str,
                                                         redis_url: str) -> None:
    from app.persistence.db import db
    settings = make_settings(tmp_path, database_url, redis_url, max_open_orders=5000)
    client = await aiohttp_client(create_app(settings))
    token, user = await register(client)
    ws = await open_ws(client, token)
    # Each order locks 0.1 BTC x 1000 USDT = 100 USDT; the wallet holds 10,000 USDT: room for exactly 100.
    order = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.1", "price": "1000.00"}

    async def place(i: int) -> tuple[int, dict[str, Any]]:
        resp = await client.post("/api/trading/orders", json={**order, "clientOrderId": f"c{i}"},
                                 headers=auth(token))
        return resp.status, await resp.json()

    results = await asyncio.gather(*(place(i) for i in range(N)))
    assert {status for status, _ in results} == {202}
    ids = {body["orderId"] for _, body in results}
    assert len(ids) == N
    final: dict[int, str] = {}

    def settled(msg: dict[str, Any]) -> bool:
        if msg.get("type") == "ORDER_UPDATE" and msg["orderId"] in ids and msg["status"] in ("NEW", "REJECTED"):
            final[msg["orderId"]] = msg["status"]
        return len(final) == N

    await ws.wait_for(settled, timeout=240)
    statuses = list(final.values())
    assert statuses.count("NEW") == 100 and statuses.count("REJECTED") == 900
    uid = user["id"]
    free = Balance.get((Balance.account == user_free(uid)) & (Balance.asset == "USDT")).amount
    locked = Balance.get((Balance.account == user_locked(uid)) & (Balance.asset == "USDT")).amount
    assert (free, locked) == (Decimal(0), Decimal(10000))
    assert Order.select().where(Order.user_id == uid).count() == N
    check_ledger()
    check_orders(allow_open=True)
    await ws.close()
    await client.close()
    db.close()
    drop_keys(redis_url, settings.stream_prefix)


async def _register_at_once(aiohttp_client: Any, tmp_path: Path, database_url: str, redis_url: str,
                            emails: list[str]) -> tuple[list[int], dict[str, Decimal], dict[str, Decimal]]:
    """Register every e-mail at once on a fresh database: the statuses, the genesis account's balances and the
    starting wallet; the ledger is checked."""
    from app.persistence.db import db
    settings = make_settings(tmp_path, database_url, redis_url)
    client = await aiohttp_client(create_app(settings))

    async def one(email: str) -> int:
        return (await client.post("/auth/register", json={"email": email, "password": PASSWORD})).status

    statuses = await asyncio.gather(*(one(e) for e in emails))
    genesis = {b.asset: b.amount for b in Balance.select().where(Balance.account == HOUSE_GENESIS)}
    check_ledger()
    await client.close()
    db.close()
    drop_keys(redis_url, settings.stream_prefix)
    return list(statuses), genesis, {asset: amount for asset, amount in settings.starting_wallet if amount > 0}


async def test_concurrent_registrations_on_a_fresh_database_all_open_and_the_genesis_account_adds_up(
        aiohttp_client: Any, tmp_path: Path, database_url: str, redis_url: str) -> None:
    """Every registration books its starting wallet from `house:genesis`, the one balance row that every web
    thread (and every web node) writes. On a fresh database the first ones also create that row. On
    PostgreSQL they run side by side: none may fail on the row's creation, none may overwrite another's
    update. SQLite serialises them (BEGIN IMMEDIATE); the same assertions hold there."""
    statuses, genesis, wallet = await _register_at_once(aiohttp_client, tmp_path, database_url, redis_url,
                                                        [new_email() for _ in range(40)])
    assert statuses == [201] * 40
    assert genesis == {asset: -40 * amount for asset, amount in wallet.items()}


async def test_one_email_registered_many_times_at_once_opens_one_account(
        aiohttp_client: Any, tmp_path: Path, database_url: str, redis_url: str) -> None:
    """The same e-mail ten times at once: one 201 and nine 409s (the unique e-mail, in a savepoint), never a 500,
    and only the one account's starting wallet is booked."""
    statuses, genesis, wallet = await _register_at_once(aiohttp_client, tmp_path, database_url, redis_url,
                                                        [new_email()] * 10)
    assert sorted(statuses) == [201] + [409] * 9
    assert genesis == {asset: -amount for asset, amount in wallet.items()}
