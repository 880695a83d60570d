"""Smoke test of the built binary (`make binary`), run by .ci/binary-smoke after the test suite.

From a copy of dist/troupe in another folder, with a fresh data directory and an environment
without Python: start it with /tmp mounted noexec (a private mount namespace), wait for /readyz,
register, place a market order and see it FILLED over the WebSocket, SIGKILL it, check that nothing
is left running or listening (no troupe or redis-server of that folder, the port closed, no
unpacked temp folder), restart it on the same data and find the balances intact; then the CLI
(`user list`, `check`) and a clean SIGTERM stop. Exits non-zero with the reason on any failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

PASSWORD = "smoke test pass phrase 42"  # noqa: S105 - a throwaway account on a throwaway server
EMAIL = "smoke@example.com"
ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001", "clientOrderId": "smoke-1"}
# Inside a private mount namespace, /tmp becomes a fresh noexec tmpfs; then the binary replaces the shell.
NOEXEC_TMP = 'mount -t tmpfs -o noexec,nosuid,nodev,size=64m smoke-tmp /tmp && exec "$0" "$@"'


def say(text: str) -> None:
    print(f"binary smoke: {text}", flush=True)


class Failed(Exception):
    pass


class Binary:
    """The copied binary and its data directory, in a folder of their own outside the checkout."""

    def __init__(self, dist: Path) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="troupe-smoke-", dir="/var/tmp"))
        shutil.copytree(dist, self.root / "troupe", symlinks=True)
        self.exe = self.root / "troupe" / "troupe"
        self.data = self.root / "data"
        self.env = {"PATH": "/usr/bin:/bin", "HOME": str(self.root / "home"), "LANG": "C.UTF-8",
                    "DATA_DIR": str(self.data), "PORT": "0", "BCRYPT_ROUNDS": "4", "TICK_INTERVAL_MS": "100"}
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def cli(self, *args: str) -> str:
        done = subprocess.run([str(self.exe), *args], cwd=self.root, env=self.env, capture_output=True, text=True,
                              timeout=60, check=False)
        if done.returncode != 0:
            raise Failed(f"`troupe {' '.join(args)}` exited {done.returncode}: {done.stderr.strip()}")
        return done.stdout

    def start(self, noexec_tmp: bool) -> float:
        """Start `troupe serve` (the default command); returns seconds until it answered ready."""
        argv = [str(self.exe)]
        if noexec_tmp:
            argv = ["unshare", "--mount", "--propagation", "private", "sh", "-c", NOEXEC_TMP, *argv]
        began = time.monotonic()
        log = (self.root / "server.log").open("a")
        self.proc = subprocess.Popen(argv, cwd=self.root, env=self.env, stdout=subprocess.PIPE, stderr=log,
                                     text=True)
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if "Troupe is running at" in line:
                self.url = line.split("running at ", 1)[1].split()[0].rstrip("/")
                break
        else:
            raise Failed(f"the binary exited with {self.proc.wait()} before serving; see {self.root}/server.log")
        asyncio.run(self._until_ready())
        return time.monotonic() - began

    async def _until_ready(self) -> None:
        async with aiohttp.ClientSession() as session:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                async with session.get(self.url + "/readyz") as resp:
                    if resp.status == 200 and (await resp.json())["status"] == "ready":
                        return
                await asyncio.sleep(0.1)  # polling the readiness probe, as a supervisor does
        raise Failed("/readyz did not say ready within 60 s")

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def redis_pid(self) -> int:
        return int((self.data / "redis" / "redis.pid").read_text().strip())

    def leftovers(self) -> list[str]:
        """Every process whose command line or executable lies in this folder (troupe, its redis-server)."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                exe = os.readlink(entry / "exe")
            except OSError:
                continue
            if str(self.root) in cmdline or exe.startswith(str(self.root)):
                found.append(f"{entry.name}: {cmdline.strip()}")
        return found


def wait_gone(pid: int, timeout: float) -> None:
    """Wait for a process we did not start to end (a pidfd is readable once it has)."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        if not select.select([pidfd], [], [], timeout)[0]:
            raise Failed(f"process {pid} still runs {timeout} s later")
    finally:
        os.close(pidfd)


def unpacked(before: set[str]) -> None:
    """A one-file build would leave `_MEIxxxxxx` in the temp folder; the one-folder build none."""
    if new := {p.name for p in Path(tempfile.gettempdir()).glob("_MEI*")} - before:
        raise Failed(f"unpacked temp folders left behind: {sorted(new)}")


def port_closed(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


async def trade(url: str) -> tuple[int, list[dict[str, str]]]:
    """Register, watch the WebSocket, place a market order and wait for its FILLED update."""
    async with aiohttp.ClientSession(url) as session:
        async with session.post("/auth/register", json={"email": EMAIL, "password": PASSWORD}) as resp:
            if resp.status != 201:
                raise Failed(f"register: {resp.status} {await resp.text()}")
            headers = {"Authorization": f"Bearer {(await resp.json())['token']}"}
        async with session.post("/api/ws-ticket", headers=headers) as resp:
            ticket = (await resp.json())["ticket"]
        ws = await session.ws_connect(f"/ws?ticket={ticket}")
        await until(ws, lambda m: m["type"] == "SNAPSHOT")
        async with session.post("/api/trading/orders", json=ORDER, headers=headers) as resp:
            if resp.status != 202:
                raise Failed(f"order: {resp.status} {await resp.text()}")
            order_id = int((await resp.json())["orderId"])
        await until(ws, lambda m: m.get("type") == "ORDER_UPDATE" and m.get("orderId") == order_id
                    and m["status"] == "FILLED")
        await ws.close()
        return order_id, await balances(session, headers)


async def until(ws: aiohttp.ClientWebSocketResponse, wanted: Any) -> dict[str, Any]:
    async with asyncio.timeout(30):
        while True:
            raw = await ws.receive()
            if raw.type is not aiohttp.WSMsgType.TEXT:
                raise Failed(f"the WebSocket ended: {raw.type}")
            msg = json.loads(raw.data)
            if msg.get("type") == "ORDER_UPDATE" and msg.get("status") == "REJECTED":
                raise Failed(f"the order was rejected: {msg}")
            if wanted(msg):
                return dict(msg)


async def balances(session: aiohttp.ClientSession, headers: dict[str, str]) -> list[dict[str, str]]:
    async with session.get("/api/trading/balances", headers=headers) as resp:
        return list((await resp.json())["balances"])


async def after_restart(url: str, order_id: int) -> tuple[list[dict[str, str]], str]:
    async with aiohttp.ClientSession(url) as session:
        async with session.post("/auth/login", json={"email": EMAIL, "password": PASSWORD}) as resp:
            if resp.status != 200:
                raise Failed(f"login after restart: {resp.status} {await resp.text()}")
            headers = {"Authorization": f"Bearer {(await resp.json())['token']}"}
        async with session.get(f"/api/trading/orders/{order_id}", headers=headers) as resp:
            status = (await resp.json())["status"]
        return await balances(session, headers), status


def main(dist: Path) -> int:
    if not (dist / "troupe").is_file():
        raise Failed(f"{dist}/troupe is missing: run `make binary`")
    temp_before = {p.name for p in Path(tempfile.gettempdir()).glob("_MEI*")}
    binary = Binary(dist)
    try:
        say(f"copied to {binary.root}; version: {binary.cli('--version').strip()}")
        took = binary.start(noexec_tmp=True)
        assert binary.proc is not None
        tmp = [m for m in Path(f"/proc/{binary.proc.pid}/mounts").read_text().splitlines() if m.split()[1] == "/tmp"]  # noqa: S108
        if not tmp or "noexec" not in tmp[-1].split()[3].split(","):
            raise Failed(f"the server's /tmp is not mounted noexec: {tmp}")
        say(f"ready in {took:.2f} s at {binary.url}, with /tmp mounted noexec ({tmp[-1]})")
        order_id, before = asyncio.run(trade(binary.url))
        say(f"order {order_id} FILLED over the WebSocket; balances {before}")

        redis_pid, port = binary.redis_pid(), binary.port
        binary.proc.send_signal(signal.SIGKILL)
        binary.proc.wait(30)
        wait_gone(redis_pid, 15)  # the bundled redis-server follows its parent (PR_SET_PDEATHSIG)
        if left := binary.leftovers():
            raise Failed("left running after SIGKILL: " + "; ".join(left))
        if not port_closed(port):
            raise Failed(f"port {port} still accepts connections after SIGKILL")
        unpacked(temp_before)
        say("SIGKILL: no troupe or redis-server of that folder left, port closed, no temp folder")

        took = binary.start(noexec_tmp=False)
        after, status = asyncio.run(after_restart(binary.url, order_id))
        if after != before or status != "FILLED":
            raise Failed(f"after the restart: order {status}, balances {after} (before: {before})")
        say(f"restarted on the same data in {took:.2f} s: order FILLED, balances intact")
        users = binary.cli("user", "list")
        checked = binary.cli("check")
        if EMAIL not in users or "FAILED" in checked:
            raise Failed(f"CLI: user list said {users!r}; check said {checked!r}")
        say("CLI: `user list` shows the account, `check` passes")

        binary.proc.send_signal(signal.SIGTERM)
        if (code := binary.proc.wait(30)) != 0:
            raise Failed(f"SIGTERM: exit status {code}")
        if left := binary.leftovers():
            raise Failed("left running after SIGTERM: " + "; ".join(left))
        unpacked(temp_before)  # this run had the real /tmp
        say("stopped cleanly on SIGTERM: passed")
        return 0
    except BaseException:
        log = binary.root / "server.log"
        if log.exists():
            print("".join(log.read_text(errors="replace").splitlines(keepends=True)[-30:]), file=sys.stderr)
        raise
    finally:
        if binary.proc is not None and binary.proc.poll() is None:
            binary.proc.kill()
            binary.proc.wait()
        shutil.rmtree(binary.root, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "dist/troupe")))
    except (Failed, OSError, subprocess.SubprocessError, aiohttp.ClientError, TimeoutError) as exc:
        print(f"binary smoke: FAILED: {exc}", file=sys.stderr)
        sys.exit(1)
