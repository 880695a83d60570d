"""Fixtures: a real Redis, a real database (SQLite file, and PostgreSQL when TEST_DATABASE_URL is
set), and a real Troupe application with its actors. Nothing of Troupe's own is mocked."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg2
import pykka
import pytest

from app.embedded_redis import EmbeddedRedis
from tests.support.apps import make_settings, running_app

PG_URL = os.environ.get("TEST_DATABASE_URL", "")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """TEST_REDIS_URL if set, else the bundled redis-server, started once for the session."""
    url = os.environ.get("TEST_REDIS_URL")
    if url:
        yield url
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    yield server.start()
    server.stop()


def _pg_schema_url() -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:10]}"
    conn = psycopg2.connect(PG_URL)
    conn.autocommit = True
    conn.cursor().execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-c%20search_path%3D{schema}&application_name={schema}"
    finally:
        # Any connection of this test still open would block the DROP: end them first.
        conn.cursor().execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                              (schema,))
        conn.cursor().execute(f"DROP SCHEMA {schema} CASCADE")
        conn.close()


DB_PARAMS = ["sqlite", pytest.param("postgres", marks=pytest.mark.skipif(
    not PG_URL, reason="PostgreSQL runs where TEST_DATABASE_URL is set (CI sets it)"))]


@pytest.fixture(params=DB_PARAMS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'troupe.db'}"
    else:
        yield from _pg_schema_url()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'troupe.db'}"


@pytest.fixture
async def client(aiohttp_client: Any, tmp_path: Path, sqlite_url: str, redis_url: str) -> AsyncIterator[Any]:
    """A running Troupe on SQLite (for tests whose subject is not the database)."""
    async for c in running_app(aiohttp_client, make_settings(tmp_path, sqlite_url, redis_url)):
        yield c


@pytest.fixture
async def make_client(aiohttp_client: Any, tmp_path: Path, sqlite_url: str,
                      redis_url: str) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """Start a Troupe on SQLite with some settings changed: `await make_client(auth_rate_per_min=3)`."""
    running: list[AsyncIterator[Any]] = []

    async def start(**changes: Any) -> Any:
        clients = running_app(aiohttp_client, replace(make_settings(tmp_path, sqlite_url, redis_url), **changes))
        running.append(clients)
        return await anext(clients)

    yield start
    for clients in running:
        async for _ in clients:  # runs the rest of running_app: close, then drop the test's keys
            pass


@pytest.fixture
async def db_client(aiohttp_client: Any, tmp_path: Path, database_url: str, redis_url: str) -> AsyncIterator[Any]:
    """A running Troupe on each database: SQLite, and PostgreSQL where TEST_DATABASE_URL is set."""
    async for c in running_app(aiohttp_client, make_settings(tmp_path, database_url, redis_url)):
        yield c


@pytest.fixture(autouse=True)
def _stop_leftover_actors() -> Iterator[None]:
    yield
    pykka.ActorRegistry.stop_all(timeout=10)


@pytest.fixture
async def fake() -> AsyncIterator[Any]:
    """The strict local fake of Binance (REST and market stream), serving on the test's loop."""
    from tests.support.fakes.binance import FakeBinance
    f = FakeBinance()
    await f.start()
    yield f
    await f.stop()
