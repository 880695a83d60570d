"""The command line (app/cli.py) run as an operator runs it: `python run.py …` in a subprocess.

`--help` and `--version` never start anything or write a file; flags override the environment;
`user create|list|disable` work on the real database and reach a running server through Redis
(a disabled account's token and WebSocket end at once, not when the session cache expires);
`check` says one line per probe and fails with a non-zero status.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from app.version import VERSION
from settings import default_data_dir, load_settings
from tests.support.helpers import PASSWORD, ROOT, ServerProcess, auth, new_email, open_ws, server_env
from web.ws_hub import SESSION_ENDED

HELP_ARGS = [[], ["serve"], ["user"], ["user", "create"], ["user", "list"], ["user", "disable"], ["account"],
             ["account", "reset"], ["check"]]


def troupe(*args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str | None = None,
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=cwd, env=env, input=stdin,
                          capture_output=True, text=True, timeout=60, check=False)


def _clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without any Troupe setting, so `./data` would be the data directory."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TEST_DATABASE_URL")}
    return {**keep, **extra}


@pytest.mark.parametrize("args", HELP_ARGS, ids=lambda a: " ".join(a) or "top")
def test_help_starts_nothing_and_writes_nothing(tmp_path: Path, args: list[str]) -> None:
    began = time.monotonic()
    proc = troupe(*args, "--help", cwd=tmp_path, env=_clean_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: troupe") and proc.stderr == ""
    assert time.monotonic() - began < 10  # it imports no server: a server start takes longer and writes ./data
    assert list(tmp_path.iterdir()) == []


def test_version_is_the_one_in_app_version(tmp_path: Path) -> None:
    proc = troupe("--version", cwd=tmp_path, env=_clean_env())
    assert (proc.returncode, proc.stdout.strip()) == (0, f"troupe {VERSION}")
    assert list(tmp_path.iterdir()) == []
    assert 'dynamic = ["version"]' in (ROOT / "pyproject.toml").read_text()  # not written a second time


def test_no_command_means_serve_and_flags_override_the_environment(tmp_path: Path) -> None:
    proc = troupe("--port", "nope", cwd=tmp_path, env=_clean_env(PORT="8080"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == "troupe: configuration error: PORT must be a whole number between 0 and 65535, " \
                                  "got 'nope'"
    assert list(tmp_path.iterdir()) == []
    unknown = troupe("serve", "--nope", cwd=tmp_path, env=_clean_env())
    assert unknown.returncode == 2 and "unrecognized arguments: --nope" in unknown.stderr


def test_serve_flags_win_over_the_environment(tmp_path: Path) -> None:
    data = tmp_path / "flagged"
    env = server_env(tmp_path / "from-env", {"PORT": "nope", "LOG_LEVEL": "ERROR"})
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "serve", "--port", "0", "--data-dir", str(data),
                             "--log-level", "info"], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "Troupe is running at http://127.0.0.1:" in line, proc.stderr.read() if proc.stderr else ""
        assert (data / "troupe.db").exists() and not (tmp_path / "from-env").exists()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert " INFO " in err  # --log-level info beat LOG_LEVEL=ERROR


def test_frozen_binary_keeps_its_data_in_the_users_data_directory() -> None:
    assert default_data_dir({"XDG_DATA_HOME": "/srv/xdg"}, frozen=True) == Path("/srv/xdg/troupe")
    assert default_data_dir({"HOME": "/home/ops"}, frozen=True) == Path("/home/ops/.local/share/troupe")
    assert default_data_dir({"HOME": "/home/ops", "XDG_DATA_HOME": "relative"}, frozen=True) == \
        Path("/home/ops/.local/share/troupe")  # the XDG spec: a relative path is ignored
    assert default_data_dir({"XDG_DATA_HOME": "/srv/xdg"}, frozen=False) == Path("./data")  # from source
    assert load_settings({}).data_dir == Path("./data")
    assert load_settings({"DATA_DIR": "/srv/t"}).data_dir == Path("/srv/t")


def _create(data: Path, email: str, password: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return troupe("user", "create", email, "--password-stdin", "--data-dir", str(data), cwd=cwd,
                  env=_clean_env(BCRYPT_ROUNDS="4"), stdin=password + "\n")


def test_user_commands_refuse_with_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    empty = troupe("user", "list", "--data-dir", str(data), cwd=tmp_path, env=_clean_env())
    assert empty.returncode == 1 and empty.stderr.startswith("troupe: no database yet at ")
    assert not data.exists()  # listing creates nothing
    weak = _create(data, new_email(), "short", tmp_path)
    assert weak.returncode == 1 and weak.stderr.startswith("troupe: ") and len(weak.stderr.splitlines()) == 1
    bad = _create(data, "not-an-email", PASSWORD, tmp_path)
    assert bad.returncode == 1 and "is not an e-mail address" in bad.stderr
    email = new_email()
    assert _create(data, email, PASSWORD, tmp_path).returncode == 0
    taken = _create(data, email.upper(), PASSWORD, tmp_path)
    assert (taken.returncode, taken.stderr.strip()) == (1, f"troupe: {email} is taken")
    unknown = troupe("user", "disable", "nobody@example.com", "--data-dir", str(data), cwd=tmp_path,
                     env=_clean_env())
    assert (unknown.returncode, unknown.stderr.strip()) == (1, "troupe: no user nobody@example.com")
    none = troupe("user", "create", new_email(), "--data-dir", str(data), cwd=tmp_path, env=_clean_env(),
                  stdin="")  # no terminal to prompt on
    assert none.returncode == 1 and "--password-stdin" in none.stderr


async def _closed_for_session(ws: Any, within_s: float) -> str:
    async with asyncio.timeout(within_s):
        while True:
            msg = await ws.ws.receive()
            if msg.type is not aiohttp.WSMsgType.TEXT:
                assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, SESSION_ENDED), msg
                return str(msg.extra or "")


async def test_users_created_and_disabled_from_the_cli_on_a_running_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    server = ServerProcess(data)  # the bundled Redis and SQLite, as `make run`; sessions cached 30 s
    url = server.start()
    try:
        email = new_email()
        created = await asyncio.to_thread(_create, data, email, PASSWORD, tmp_path)
        assert created.returncode == 0, created.stderr
        assert created.stdout.startswith("created user ") and email in created.stdout
        async with aiohttp.ClientSession(url) as session:
            login = await session.post("/auth/login", json={"email": email.upper(), "password": PASSWORD})
            assert login.status == 200, await login.text()
            token = (await login.json())["token"]
            balances = await (await session.get("/api/trading/balances", headers=auth(token))).json()
            assert {b["asset"]: b["free"] for b in balances["balances"]}["USDT"] == "10000"  # STARTING_WALLET
            ws = await open_ws(session, token)

            listed = await asyncio.to_thread(troupe, "user", "list", "--data-dir", str(data), cwd=tmp_path,
                                             env=_clean_env())
            assert listed.returncode == 0 and listed.stdout.splitlines()[0].split() == \
                ["ID", "EMAIL", "CREATED", "(UTC)", "STATUS"]
            assert any(email in line and line.endswith("active") for line in listed.stdout.splitlines())

            disabled = await asyncio.to_thread(troupe, "user", "disable", email, "--data-dir", str(data),
                                               cwd=tmp_path, env=_clean_env())
            assert disabled.returncode == 0, disabled.stderr
            assert "disabled; sessions ended; 1 web process(es) told" in disabled.stdout
            # At once, not after AUTH_CACHE_SECONDS (30 s): the notice reached the server's guard.
            assert "disabled" in await _closed_for_session(ws, 5)
            assert (await session.get("/api/trading/balances", headers=auth(token))).status == 401
            again = await session.post("/auth/login", json={"email": email, "password": PASSWORD})
            assert again.status == 403 and (await again.json())["code"] == "ACCOUNT_DISABLED"

        listed = await asyncio.to_thread(troupe, "user", "list", "--data-dir", str(data), cwd=tmp_path,
                                         env=_clean_env())
        assert any(email in line and line.endswith("disabled") for line in listed.stdout.splitlines())
    finally:
        assert server.stop() == 0


def test_disabling_with_no_server_running_still_ends_the_sessions(tmp_path: Path) -> None:
    data = tmp_path / "data"
    email = new_email()
    assert _create(data, email, PASSWORD, tmp_path).returncode == 0
    proc = troupe("user", "disable", email, "--data-dir", str(data), cwd=tmp_path, env=_clean_env())
    assert proc.returncode == 0, proc.stderr
    assert "sessions ended in the database; no server told" in proc.stdout
    again = troupe("user", "disable", email, "--data-dir", str(data), cwd=tmp_path, env=_clean_env())
    assert again.returncode == 0 and "was already disabled" in again.stdout


def test_check_says_one_line_per_probe_and_fails_non_zero(tmp_path: Path) -> None:
    data = tmp_path / "data"
    fresh = troupe("check", "--data-dir", str(data), cwd=tmp_path, env=_clean_env())
    assert fresh.returncode == 0, fresh.stdout
    names = [line.split(":", 1)[0] for line in fresh.stdout.splitlines()]
    assert names == ["settings", "data dir", "database", "redis"]
    assert all(": ok " in line for line in fresh.stdout.splitlines())
    assert list(tmp_path.iterdir()) == []  # it creates nothing, starts nothing

    postgres = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    reached = troupe("check", "--data-dir", str(data), "--database-url", postgres, "--redis-url",
                     os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"), cwd=tmp_path, env=_clean_env())
    assert reached.returncode == 0, reached.stdout
    assert "database: ok postgresql://" in reached.stdout and " answers" in reached.stdout
    assert "redis: ok Redis " in reached.stdout

    broken = troupe("check", "--data-dir", str(data), "--database-url", "postgresql://nobody:pw@127.0.0.1:1/x",
                    "--redis-url", "redis://127.0.0.1:1/0", cwd=tmp_path, env=_clean_env())
    assert broken.returncode == 1
    lines = dict(line.split(": ", 1) for line in broken.stdout.splitlines())
    assert lines["database"].startswith("FAILED DATABASE_URL postgresql://nobody:***@127.0.0.1:1/x")
    assert lines["redis"].startswith("FAILED REDIS_URL redis://127.0.0.1:1/0")
    assert "pw" not in broken.stdout.replace("nobody:***", "")

    bad = troupe("check", "--port", "70000", cwd=tmp_path, env=_clean_env())
    assert bad.returncode == 2 and bad.stdout.startswith("settings: FAILED PORT must be between 0 and 65535")
