"""The bundled Redis only ever signals a process proven to be its own redis-server."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from app.embedded_redis import EmbeddedRedis


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    """A live process that is not Redis, as a pid left in redis.pid by a host crash may now be."""
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait()


def test_a_stale_pidfile_naming_another_process_leaves_that_process_alone(
        tmp_path: Path, bystander: subprocess.Popen[bytes]) -> None:
    server = EmbeddedRedis(tmp_path)
    server.dir.mkdir(parents=True)
    (server.dir / "redis.pid").write_text(f"{bystander.pid}\n")
    server.start()
    try:
        assert redis.Redis.from_url(server.url).ping()
    finally:
        server.stop()
    assert bystander.poll() is None  # main: SIGTERM to whatever pid the file named


def test_a_leftover_server_of_the_same_data_directory_is_still_stopped(tmp_path: Path) -> None:
    leftover = EmbeddedRedis(tmp_path)  # as if the Troupe that started it had been killed
    leftover.start()
    assert leftover.proc is not None
    server = EmbeddedRedis(tmp_path)
    server.start()
    try:
        assert leftover.proc.poll() is not None
        assert server.proc is not None and redis.Redis.from_url(server.url).info("server")["process_id"] == \
            server.proc.pid
    finally:
        server.stop()
        leftover.stop()


def test_only_our_redis_server_is_recognised_by_its_title(tmp_path: Path, bystander: subprocess.Popen[bytes]) -> None:
    other = EmbeddedRedis(tmp_path / "other")
    other.start()
    try:
        assert other.proc is not None
        assert other._titled_ours(other.proc.pid)
        assert not EmbeddedRedis(tmp_path)._titled_ours(other.proc.pid)  # a redis-server, but another directory's
        assert not other._titled_ours(bystander.pid)
    finally:
        other.stop()
