"""TRACE_HOPS: an order's FILLED frame shows when it passed every hop of its path (app/hops.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app import hops
from tests.support.apps import make_settings, running_app
from tests.support.helpers import auth, open_ws, register

BUY = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"}


@pytest.fixture
async def traced(aiohttp_client: Any, tmp_path: Path, sqlite_url: str, redis_url: str) -> AsyncIterator[Any]:
    async for c in running_app(aiohttp_client, make_settings(tmp_path, sqlite_url, redis_url, trace_hops=True)):
        yield c


async def test_a_filled_frame_carries_every_hop_in_path_order(traced: Any) -> None:
    token, _ = await register(traced)
    ws = await open_ws(traced, token)
    resp = await traced.post("/api/trading/orders", json=BUY, headers=auth(token))
    assert resp.status == 202, await resp.text()
    filled = await ws.order_status((await resp.json())["orderId"], {"FILLED"})
    trace = filled["trace"]
    assert list(trace) == list(hops.HOPS)
    stamps = [trace[h] for h in hops.HOPS]
    assert stamps == sorted(stamps) and all(isinstance(s, int) for s in stamps)
    assert set(hops.completed(trace)) == set(hops.HOPS[1:])
    await ws.close()


async def test_without_the_setting_no_frame_carries_a_trace(client: Any) -> None:
    token, _ = await register(client)
    ws = await open_ws(client, token)
    resp = await client.post("/api/trading/orders", json=BUY, headers=auth(token))
    filled = await ws.order_status((await resp.json())["orderId"], {"FILLED"})
    assert "trace" not in filled
    await ws.close()
