"""A Troupe that cannot start says why in one line on stderr, naming the setting, and exits 2.

Before the pre-flight a refused database printed 80 lines of traceback, a refused Redis 106 ending
in `SupervisorError: price-feed did not become ready`, an unwritable DATA_DIR ended in
`AttributeError: Cannot use uninitialized Proxy`, and a port in use was found only after every
actor had started and stopped.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.helpers import ServerProcess, run_until_exit

SECRET = "s3cret-pw"


def _assert_one_line(proc: subprocess.CompletedProcess[str], *words: str) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("troupe: "), proc.stderr
    for word in words:
        assert word.lower() in lines[0].lower(), (word, lines[0])
    assert SECRET not in proc.stderr and proc.stdout == ""
    return lines[0]


@pytest.mark.parametrize("env,setting,cause", [
    ({"DATABASE_URL": f"postgresql://nobody:{SECRET}@127.0.0.1:1/x"}, "DATABASE_URL", "refused"),
    ({"REDIS_URL": f"redis://:{SECRET}@127.0.0.1:1/0"}, "REDIS_URL", "refused"),
    ({"DATA_DIR": "/proc/nope"}, "DATA_DIR", "not writable"),
    ({"DATABASE_URL": "sqlite:////proc/nope/troupe.db"}, "DATABASE_URL", "unable to open"),
    ({"FEE_RATE": "lots"}, "FEE_RATE", "decimal"),
], ids=["database refused", "redis refused", "data dir", "sqlite file", "bad value"])
def test_each_start_up_failure_is_one_line_naming_the_setting(
        tmp_path: Path, env: dict[str, str], setting: str, cause: str) -> None:
    _assert_one_line(run_until_exit(tmp_path / "data", env), setting, cause)


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port some other program listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def test_a_port_in_use_is_refused_before_anything_starts(tmp_path: Path, busy_port: int) -> None:
    data = tmp_path / "data"
    line = _assert_one_line(run_until_exit(data, {"HOST": "127.0.0.1", "PORT": str(busy_port)}), "PORT",
                            str(busy_port), "in use")
    assert line == f"troupe: cannot start: PORT {busy_port} on HOST 127.0.0.1: address already in use"
    # Checked before the database, Redis, the secrets and the actors: none of them left a trace.
    assert sorted(p.name for p in data.iterdir()) == []


def _ready_lines(server: ServerProcess) -> list[str]:
    """The start-up summaries in the server's log, one per start: they name the actors it runs."""
    return [line for line in server.log_path.read_text().splitlines() if "ready at" in line]


def test_a_start_with_another_shard_count_than_the_data_is_refused(tmp_path: Path) -> None:
    """The first start pins EXECUTOR_SHARDS in the database; another count later is refused in one line that
    names the count to use, and the pinned count still starts."""
    server = ServerProcess(tmp_path / "data", {"EXECUTOR_SHARDS": "2"})
    server.start()
    assert server.stop() == 0
    line = _assert_one_line(run_until_exit(tmp_path / "data", {"EXECUTOR_SHARDS": "3"}), "EXECUTOR_SHARDS")
    assert "sharded by 2" in line and "set EXECUTOR_SHARDS=2" in line
    assert run_until_exit(tmp_path / "data", {"EXECUTOR_SHARDS": "1"}).returncode == 2
    server.start()
    assert server.stop() == 0
    unset = ServerProcess(tmp_path / "data")  # EXECUTOR_SHARDS unset: the pinned count
    unset.start()
    assert unset.stop() == 0
    assert "actors price-feed, executor-0, executor-1, broadcaster, gateway" in _ready_lines(unset)[-1]


def test_a_new_database_without_executor_shards_runs_one_shard_and_keeps_it(tmp_path: Path) -> None:
    """EXECUTOR_SHARDS unset on a new database: one shard, pinned, so asking for two later is refused."""
    server = ServerProcess(tmp_path / "data")
    server.start()
    assert server.stop() == 0
    started = _ready_lines(server)
    assert len(started) == 1 and "actors price-feed, executor-0, broadcaster, gateway" in started[0]
    line = _assert_one_line(run_until_exit(tmp_path / "data", {"EXECUTOR_SHARDS": "2"}), "EXECUTOR_SHARDS")
    assert "sharded by 1" in line
