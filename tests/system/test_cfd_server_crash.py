"""The CFD desk in a real Troupe process, killed (SIGKILL) at random points while a scripted session
with a scripted price path runs; every run must end in the state of a run that was never killed.

The script alternates price ticks (stamped with fixed far-future times, so the simulated feed cannot
move the desk's market) and commands with fixed clientRequestIds, so retrying the step that was in
flight when the process died is safe, and the final engine state must hash the same.
"""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis

from app.cfd.codec import state_hash
from app.cfd.journal import recover
from app.messages import PriceTick, encode
from app.persistence.db import db
from app.persistence.models import CfdAccount
from app.persistence.schema import init_database
from tests.support.helpers import PASSWORD, ServerProcess, auth, register

pytestmark = pytest.mark.crash
KILLS = 50
T0 = 4_000_000_000_000  # ms: far beyond any real tick
POINTS = ("cfd.before_fsync", "executor.inside_tx", "executor.after_commit", "executor.after_send")


def script() -> list[tuple[str, Any]]:
    rng = random.Random(5)
    price = 60_000
    steps: list[tuple[str, Any]] = [("register", 1), ("register", 2)]
    opened = 0
    for i in range(70):
        price += rng.randint(-900, 900)
        steps.append(("tick", (i, price)))
        user = 1 + i % 2
        roll = rng.random()
        if roll < 0.5 or opened == 0:
            direction = rng.choice(["LONG", "SHORT"])
            margin, leverage = str(rng.randint(50, 300)), str(rng.randint(20, 300) / 10)
            steps.append(("open", (user, f"s{i}", direction, margin, leverage)))
            opened += 1
        elif roll < 0.7:
            steps.append(("transfer", (user, f"s{i}", str(rng.randint(1, 50)))))
        else:
            steps.append(("close-oldest", (user, f"s{i}")))
    return steps


class Session:
    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.tokens: dict[int, str] = {}
        self.targets: dict[str, int] = {}  # a close step's position, chosen once (a retry closes the same one)

    async def step(self, url: str, kind: str, arg: Any) -> bool:
        """One step; False if the server died under it (the step is then repeated)."""
        try:
            async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=20)) as http:
                return await self._step(http, kind, arg)
        except (aiohttp.ClientError, TimeoutError, redis.ConnectionError):
            return False  # a tick goes straight to the bundled Redis, which dies with the server

    async def _step(self, http: aiohttp.ClientSession, kind: str, arg: Any) -> bool:
        if kind == "register":
            email = f"cfd-crash-{arg}@example.com"
            resp = await http.post("/auth/register", json={"email": email, "password": PASSWORD})
            if resp.status == 409:
                resp = await http.post("/auth/login", json={"email": email, "password": PASSWORD})
            self.tokens[arg] = (await resp.json())["token"]
            return resp.status in (200, 201)
        if kind == "tick":
            i, price = arg
            p = Decimal(price)
            tick = PriceTick(msg_id=f"script-tick:{i}", symbol="BTCUSDT", price=p, bid=p - Decimal("0.5"),
                             ask=p + Decimal("0.5"), ts=T0 + i, seq=10**9 + i)
            client = redis.Redis(unix_socket_path=str(self.server.data_dir / "redis" / "redis.sock"))
            try:
                entry = client.xadd("troupe:topic:market", {"m": encode(tick)})
                await taken_in(client, entry)
            finally:
                client.close()
            return True
        user, cid = arg[0], arg[1]
        headers = auth(self.tokens[user])
        if kind == "open":
            _, _, direction, margin, leverage = arg
            resp = await http.post("/api/cfd/positions", headers=headers, json={
                "symbol": "BTCUSDT", "direction": direction, "margin": margin, "leverage": leverage,
                "clientRequestId": cid})
        elif kind == "transfer":
            resp = await http.post("/api/cfd/transfer", headers=headers, json={
                "direction": "TO_MARGIN", "amount": arg[2], "clientRequestId": cid})
        else:
            if cid not in self.targets:
                listed = await (await http.get("/api/cfd/positions?status=open", headers=headers)).json()
                if not listed["positions"]:
                    return True
                self.targets[cid] = min(p["id"] for p in listed["positions"])
            resp = await http.delete(f"/api/cfd/positions/{self.targets[cid]}", headers=headers)
        return resp.status < 500


async def taken_in(client: redis.Redis, entry: bytes) -> None:
    """Wait until the shard has read and acked the tick's entry. The desk takes a symbol's latest
    pending tick into the engine, so two ticks read in one batch would be one input and two read
    apart two: without this, how the reads fell would decide the state the run ends in."""
    def parts(entry_id: bytes | str) -> tuple[int, int]:
        ms, _, seq = (entry_id.decode() if isinstance(entry_id, bytes) else entry_id).partition("-")
        return int(ms), int(seq or 0)

    deadline = asyncio.get_running_loop().time() + 20
    while True:
        groups = {g["name"].decode(): g for g in client.xinfo_groups("troupe:topic:market")}
        group = groups.get("executor-0")
        if group is not None and parts(group["last-delivered-id"]) >= parts(entry) and not client.xpending_range(
                "troupe:topic:market", "executor-0", min=entry, max=entry, count=1):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"the shard did not take tick {entry!r} in")
        await asyncio.sleep(0.005)  # polling the group's state: Redis has no event for an ack


async def play(data_dir: Path, kills: int, seed: int) -> tuple[str, int]:
    """Run the whole script, killing the server `kills` times at random points; returns the
    engine's final state hash and how many kills happened."""
    server = ServerProcess(data_dir, env={"SYMBOLS": "BTCUSDT", "EXECUTOR_SHARDS": "1", "TICK_INTERVAL_MS": "250"})
    loop = asyncio.get_running_loop()
    rng = random.Random(seed)
    session = Session(server)
    steps = script()
    done, killed = 0, 0
    while done < len(steps):
        fault = rng.choice(POINTS) if killed < kills else None
        after = rng.randint(1, 3)
        try:
            url = await loop.run_in_executor(None, lambda f=fault, n=after: server.start(fault=f, fault_after=n))
        except RuntimeError:  # killed while starting: it was redoing the step in flight
            await loop.run_in_executor(None, server.wait_dead)
            killed += 1
            continue
        while done < len(steps):
            if not await session.step(url, *steps[done]):
                break
            done += 1
        if done < len(steps):
            await loop.run_in_executor(None, server.wait_dead)
            killed += 1
    await loop.run_in_executor(None, server.stop)
    engine, journal, _, _ = recover(data_dir / "cfd" / "shard-0", {"BTCUSDT": Decimal("0.01")}, Decimal("0.005"),
                                    Decimal("0.001"))
    journal.close()
    assert engine.books_sum() == 0
    init_database(f"sqlite:///{data_dir / 'troupe.db'}")
    with db.connection_context():
        projected = {a.user_id: a.balance for a in CfdAccount.select()}
    assert projected == {u: b for u, b in engine.balances.items()}, "the database holds every effect, once"
    return state_hash(engine), killed


async def test_killed_at_random_points_the_desk_ends_as_if_never_killed(tmp_path: Path) -> None:
    expected, _ = await play(tmp_path / "reference", kills=0, seed=1)
    actual, killed = await play(tmp_path / "killed", kills=KILLS, seed=2)
    assert killed == KILLS
    assert actual == expected


async def test_a_position_opened_before_the_first_snapshot_can_be_closed_after_a_crash(tmp_path: Path) -> None:
    """With no snapshot yet the engine is rebuilt from its journal alone: it must number positions as
    the live engine did (two shards: ids n × 2 + shard), or the open position could never be closed."""
    server = ServerProcess(tmp_path, env={"SYMBOLS": "BTCUSDT", "EXECUTOR_SHARDS": "2"})
    loop = asyncio.get_running_loop()
    url = await loop.run_in_executor(None, server.start)
    async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=20)) as http:
        token, _ = await register(http)
        resp = await http.post("/api/cfd/positions", headers=auth(token), json={
            "symbol": "BTCUSDT", "direction": "LONG", "margin": "100", "leverage": "5"})
        assert resp.status == 201, await resp.text()
        pid = (await resp.json())["position"]["id"]
    await loop.run_in_executor(None, server.kill)
    url = await loop.run_in_executor(None, server.start)
    async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=20)) as http:
        resp = await http.delete(f"/api/cfd/positions/{pid}", headers=auth(token))
        body = await resp.json()
        assert resp.status == 200 and body["event"] == "CLOSED" and body["position"]["id"] == pid, body
    await loop.run_in_executor(None, server.stop)
