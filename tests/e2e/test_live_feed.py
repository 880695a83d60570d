"""The terminal on PRICE_FEED=binance (the fake's market stream): live prices, and the stale badge."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

from tests.e2e.conftest import NewContext
from tests.e2e.test_terminal import register
from tests.support.helpers import ServerProcess


@pytest.fixture
async def server(fake: Any, tmp_path: Path) -> AsyncIterator[str]:
    """This module's own server: live prices from the fake Binance (the fake serves on this loop)."""
    proc = ServerProcess(tmp_path / "data", env={
        "PRICE_FEED": "binance", "BINANCE_API_URL": fake.url, "BINANCE_STREAM_URL": fake.stream_url,
        "BINANCE_STALE_MS": "1500"})
    loop = asyncio.get_running_loop()
    url = await loop.run_in_executor(None, proc.start)
    try:
        yield url
    finally:
        await loop.run_in_executor(None, proc.stop)


async def test_live_prices_and_the_stale_badge(new_context: NewContext, fake: Any) -> None:
    page = await (await new_context()).new_page()
    await fake.stream_connected.wait()
    await fake.push_book("BTCUSDT", "50100.00", "50100.50")
    await fake.push_trade("BTCUSDT", "50100.25")
    await register(page)
    await fake.push_trade("BTCUSDT", "50123.45")
    await expect(page.get_by_label("Last price")).to_have_text("50,123.45")
    badge = page.get_by_role("status").filter(has_text="Prices stale")
    await expect(badge).to_be_visible(timeout=10_000)  # the feed went silent
    await fake.push_trade("BTCUSDT", "50130.00")
    await expect(badge).to_be_hidden()
    await expect(page.get_by_label("Last price")).to_have_text("50,130.00")
