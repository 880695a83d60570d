"""A Troupe app on either exchange, for tests that must behave the same on both."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.support.apps import make_settings, running_app
from tests.support.fakes.binance import FakeBinance
from tests.support.helpers import PASSWORD, WsClient, auth, new_email, open_ws

STARTING = {"USDT": "10000", "BTC": "1"}


@dataclass
class Venue:
    name: str
    client: Any
    fake: FakeBinance | None

    async def trader(self, with_keys: bool = True, wallet: dict[str, str] | None = None) -> tuple[str, WsClient, str]:
        """A registered user (with Binance testnet keys on Binance, holding `wallet` there) and a live
        WebSocket."""
        body = {"email": new_email(), "password": PASSWORD}
        key = ""
        if self.fake is not None and with_keys:
            key, secret = "K" + uuid.uuid4().hex * 2, "S" + uuid.uuid4().hex * 2
            self.fake.add_account(key, secret, wallet or STARTING)
            body |= {"binanceApiKey": key, "binanceSecretKey": secret}
        resp = await self.client.post("/auth/register", json=body)
        assert resp.status == 201, await resp.text()
        token = (await resp.json())["token"]
        ws = await open_ws(self.client, token)
        if self.fake is not None and with_keys:  # the exchange account's balances arrive by themselves
            await ws.wait_for(lambda m: m["type"] == "BALANCE_UPDATE")
        return token, ws, key

    async def balance(self, token: str, asset: str) -> tuple[Decimal, Decimal]:
        resp = await self.client.get("/api/trading/balances", headers=auth(token))
        rows = {b["asset"]: b for b in (await resp.json())["balances"]}
        row = rows.get(asset, {"free": "0", "locked": "0"})
        return Decimal(row["free"]), Decimal(row["locked"])

    async def place(self, token: str, **order: str) -> dict[str, Any]:
        resp = await self.client.post("/api/trading/orders", json={"symbol": "BTCUSDT", **order}, headers=auth(token))
        assert resp.status == 202, await resp.text()
        return await resp.json()


async def open_venue(name: str, aiohttp_client: Any, tmp_path: Path, sqlite_url: str,
                     redis_url: str) -> AsyncIterator[Venue]:
    fake = None
    overrides: dict[str, Any] = {}
    if name == "binance":
        fake = FakeBinance()
        await fake.start()
        overrides = {"exchange": "binance", "binance_api_url": fake.url, "binance_poll_ms": 100,
                     "binance_recv_window_ms": 1000, "binance_timeout_s": 1}
    async for c in running_app(aiohttp_client, make_settings(tmp_path, sqlite_url, redis_url, **overrides)):
        yield Venue(name, c, fake)
    if fake is not None:
        await fake.stop()


def balance_event(asset: str, predicate: Any) -> Any:
    def check(m: dict[str, Any]) -> bool:
        if m.get("type") != "BALANCE_UPDATE":
            return False
        row = next((b for b in m["balances"] if b["asset"] == asset), None)
        return row is not None and predicate(Decimal(row["free"]), Decimal(row["locked"]))
    return check
