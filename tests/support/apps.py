"""A running Troupe application for in-process tests: its settings and its aiohttp test client.

Shared by conftest.py's fixtures and by test modules that start an application with settings of
their own; nothing imports from conftest.py.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import redis

from settings import Settings, load_settings


def make_settings(tmp_path: Path, database_url: str, redis_url: str, **overrides: Any) -> Settings:
    base = load_settings({})
    return replace(
        base, data_dir=tmp_path / "data", database_url=database_url, redis_url=redis_url,
        stream_prefix=f"t{uuid.uuid4().hex[:10]}", bcrypt_rounds=4, tick_interval_ms=50,
        order_rate_per_s=100_000, auth_rate_per_min=100_000,
        **{"shards_from_data": False, **overrides},  # the count given (2), as when EXECUTOR_SHARDS is set
    )


async def running_app(aiohttp_client: Any, settings: Settings) -> AsyncIterator[Any]:
    from app.persistence.db import db
    from web.app import create_app
    test_client = await aiohttp_client(create_app(settings))
    yield test_client
    await test_client.close()  # the app and its actors stop first, then nothing writes any more
    if db.obj is not None and not db.is_closed():  # the test thread's own connection (invariant checks)
        db.close()
    drop_keys(settings.redis_url, settings.stream_prefix)


def drop_keys(redis_url: str, prefix: str) -> None:
    """A shared Redis (TEST_REDIS_URL) keeps nothing of a finished test."""
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    for i in range(0, len(keys), 500):
        client.unlink(*keys[i:i + 500])
    client.close()
