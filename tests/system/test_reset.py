"""An account reset survives a SIGKILL: killed inside its transaction, or after the commit but before the
answer, the restarted server has reset the account exactly once (the same clientRequestId then answers
`repeated`), and the ledger balances. Then the operator's `troupe account reset` resets it again, through
the same command to the running server's executor.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from app.persistence.models import AccountReset, EquityPoint
from tests.support.helpers import PASSWORD, ROOT, ServerProcess, auth, new_email
from tests.support.invariants import server_books

pytestmark = pytest.mark.crash


def troupe(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The CLI as an operator runs it, with no Troupe setting in the environment but --data-dir."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return subprocess.run([sys.executable, str(ROOT / "run.py"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60, check=False)


async def _reset(session: aiohttp.ClientSession, token: str) -> tuple[int | None, dict[str, Any]]:
    try:
        resp = await session.post("/api/account/reset", headers=auth(token),
                                  json={"password": PASSWORD, "clientRequestId": "once"})
        return resp.status, await resp.json()
    except (aiohttp.ClientError, TimeoutError):
        return None, {}


@pytest.mark.parametrize("fault", ["executor.reset", "executor.reset_committed"])
async def test_a_reset_killed_midway_happens_once(tmp_path: Path, fault: str) -> None:
    data = tmp_path / "data"
    server = ServerProcess(data)
    url = server.start(fault=fault)
    email = new_email()
    async with aiohttp.ClientSession(url) as session:
        resp = await session.post("/auth/register", json={"email": email, "password": PASSWORD})
        token = (await resp.json())["token"]
        resp = await session.post("/api/trading/orders", headers=auth(token), json={
            "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "1000",
            "timeInForce": "GTC"})
        assert resp.status == 202
        status, _ = await _reset(session, token)
        assert status is None, "the server died before answering"
    server.wait_dead()
    url = server.start()
    try:
        async with aiohttp.ClientSession(url) as session:
            login = await session.post("/auth/login", json={"email": email, "password": PASSWORD})
            token = (await login.json())["token"]
            status, body = await _reset(session, token)
            assert status == 200, body
            assert body["reset"]["number"] == 1 and body["reset"]["canceledOrders"] in (0, 1)
            balances = await (await session.get("/api/trading/balances", headers=auth(token))).json()
            assert {b["asset"]: (b["free"], b["locked"]) for b in balances["balances"]}["USDT"] == ("10000", "0")
        cli = await asyncio.to_thread(troupe, "account", "reset", email, "--data-dir", str(data), cwd=tmp_path)
        assert cli.returncode == 0, cli.stderr
        assert "reset #2:" in cli.stdout and "0 order(s) canceled" in cli.stdout, cli.stdout
    finally:
        assert server.stop() == 0
    with server_books(data):
        assert AccountReset.select().count() == 2
        assert EquityPoint.select().where(EquityPoint.reason == "RESET").count() == 2
    unknown = troupe("account", "reset", "nobody@example.com", "--data-dir", str(data), cwd=tmp_path)
    assert (unknown.returncode, unknown.stderr.strip()) == (1, "troupe: no user nobody@example.com")
