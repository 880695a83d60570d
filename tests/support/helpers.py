"""Shared test helpers: real servers and clients, never mocks of Troupe's own parts."""

from __future__ import annotations

import asyncio
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
OLD_DATABASE = ROOT / "tests" / "fixtures" / "troupe-82e4bfe.db"  # by commit 82e4bfe: before migrations and pins
PASSWORD = "correct horse battery staple"


class RecordingEnv(dict[str, str]):
    """An environment (empty unless given) that remembers every variable load_settings asks for."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)


def known_settings() -> set[str]:
    """Every environment variable settings.load_settings reads."""
    from settings import load_settings
    env = RecordingEnv()
    load_settings(env)
    return env.asked


# --- Prometheus scrapes, read with prometheus-client's own parser ------------------------------------

METRICS_TOKEN = "metrics-token-0123456789abcdef"
MetricSamples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse_metrics(text: str) -> MetricSamples:
    """Every sample of a scrape, keyed by (name, sorted labels)."""
    from prometheus_client.parser import text_string_to_metric_families
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def metric_value(samples: MetricSamples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def new_email() -> str:
    return f"u{uuid.uuid4().hex[:12]}@example.com"


async def register(session: Any, email: str | None = None) -> tuple[str, dict[str, Any]]:
    """Register a fresh user through the real endpoint; returns (token, user)."""
    resp = await session.post("/auth/register", json={"email": email or new_email(), "password": PASSWORD})
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    return body["token"], body["user"]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class WsClient:
    """A browser-like WebSocket client that lets a test await the event it expects."""

    ws: aiohttp.ClientWebSocketResponse
    seen: list[dict[str, Any]] = field(default_factory=list)

    async def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> dict[str, Any]:
        for msg in self.seen:
            if predicate(msg):
                return msg
        async with asyncio.timeout(timeout):
            while True:
                raw = await self.ws.receive()
                if raw.type is not aiohttp.WSMsgType.TEXT:
                    raise AssertionError(f"socket ended while waiting: {raw.type} {raw.data!r}")
                msg = json.loads(raw.data)
                self.seen.append(msg)
                if predicate(msg):
                    return msg

    async def order_status(self, order_id: int, statuses: set[str], timeout: float = 10.0) -> dict[str, Any]:
        return await self.wait_for(
            lambda m: m.get("type") == "ORDER_UPDATE" and m.get("orderId") == order_id and m["status"] in statuses,
            timeout)

    async def send(self, obj: dict[str, Any]) -> None:
        await self.ws.send_str(json.dumps(obj))

    async def close(self) -> None:
        await self.ws.close()


async def open_ws(session: Any, token: str, ws_url: str | None = None) -> WsClient:
    resp = await session.post("/api/ws-ticket", headers=auth(token))
    assert resp.status == 200, await resp.text()
    ticket = (await resp.json())["ticket"]
    ws = await session.ws_connect(f"{ws_url or '/ws'}?ticket={ticket}")
    client = WsClient(ws)
    await client.wait_for(lambda m: m["type"] == "SNAPSHOT")
    return client


async def await_filled(session: Any, token: str, order_ids: set[int], timeout: float = 60.0) -> None:
    """Wait on a fresh WebSocket (its SNAPSHOT first, then events) until every one of the orders is FILLED."""
    ws = await open_ws(session, token)
    snap = await ws.wait_for(lambda m: m["type"] == "SNAPSHOT")  # already read by open_ws
    filled = {o["orderId"] for o in snap["recentOrders"] if o["status"] == "FILLED"}

    def done(msg: dict[str, Any]) -> bool:
        if msg.get("type") == "ORDER_UPDATE" and msg["status"] == "FILLED":
            filled.add(msg["orderId"])
        return order_ids <= filled

    if not order_ids <= filled:
        await ws.wait_for(done, timeout=timeout)
    await ws.close()


@asynccontextmanager
async def session_from(client: Any, address: str) -> AsyncIterator[aiohttp.ClientSession]:
    """A session to the test server whose connections come from `address` (any 127.x.y.z on loopback)."""
    connector = aiohttp.TCPConnector(local_addr=(address, 0))
    async with aiohttp.ClientSession(str(client.make_url("/")), connector=connector) as session:
        yield session


def dec(value: str | None) -> Decimal:
    return Decimal(value or "0")


def form_csrf(html: str) -> str:
    """The CSRF token a page's form carries."""
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the form carries a CSRF token"
    return match.group(1)


async def sign_in_page(session: Any, email: str) -> None:
    """Sign in through the login form, as a browser does: the session cookie lands in `session`'s jar."""
    form = await session.get("/login")
    resp = await session.post("/login", data={"csrf": form_csrf(await form.text()), "email": email,
                                              "password": PASSWORD}, allow_redirects=False)
    assert resp.status == 303, await resp.text()


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


async def raw_http(host: str, port: int, request: bytes, timeout: float = 10.0) -> RawResponse:
    """Send bytes no HTTP client library would send as they are; read the answer to EOF."""
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(request)
            await writer.drain()
            data = await reader.read()
        finally:
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return RawResponse(int(status_line.split()[1]), headers, body)


# --- a real Troupe process, for tests that kill it -----------------------------------------------

SPLIT_ENV = {"EXECUTOR_SHARDS": "2"}  # a split deployment states its shard count on every node, as compose.yaml does


def server_env(data_dir: Path, overrides: dict[str, str]) -> dict[str, str]:
    """A test server's environment: fast bcrypt and ticks, no rate limits, no inherited fault."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("TROUPE_FAULT")}
    return {**inherited, "DATA_DIR": str(data_dir), "PORT": "0", "BCRYPT_ROUNDS": "4", "TICK_INTERVAL_MS": "100",
            "LOG_LEVEL": "INFO", "ORDER_RATE_PER_S": "100000", "AUTH_RATE_PER_MIN": "100000", **overrides}


def run_until_exit(data_dir: Path, overrides: dict[str, str], timeout: float = 60.0
                   ) -> subprocess.CompletedProcess[str]:
    """Run `python run.py` to its end: for a server that must refuse to start."""
    return subprocess.run([sys.executable, str(ROOT / "run.py")], cwd=ROOT, env=server_env(data_dir, overrides),
                          capture_output=True, text=True, timeout=timeout, check=False)


class ServerProcess:
    def __init__(self, data_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.env = env or {}
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.log_path = data_dir / f"server-{self.env.get('ROLE', 'all')}.log"

    def start(self, fault: str | None = None, fault_after: int = 1, timeout: float = 60.0,
              fault_mode: str = "kill") -> str:
        env = server_env(self.data_dir, self.env)
        if fault:
            env["TROUPE_FAULT"] = fault
            env["TROUPE_FAULT_AFTER"] = str(fault_after)
            env["TROUPE_FAULT_MODE"] = fault_mode
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("a")
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "run.py")], cwd=ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=log, text=True)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"server exited with {self.proc.wait()}; log: {self.log_path}")
            if "Troupe is running at" in line:
                self.url = line.split("running at ", 1)[1].split()[0].rstrip("/")
                return self.url
            if "Troupe executor node" in line:  # a headless node has no URL
                return ""
        raise RuntimeError("server did not start in time")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.wait_dead()

    def wait_dead(self, timeout: float = 60.0) -> int:
        assert self.proc is not None
        code = self.proc.wait(timeout)
        # The bundled Redis follows its parent (PDEATHSIG): wait for its exit through a pidfd,
        # which becomes readable when the process ends.
        if self.env.get("ROLE") == "executor":
            return code  # it does not own the bundled Redis
        pidfile = self.data_dir / "redis" / "redis.pid"
        try:
            fd = os.pidfd_open(int(pidfile.read_text().strip()))
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return code
        try:
            select.select([fd], [], [], 10)
        finally:
            os.close(fd)
        return code

    def stop(self) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        return self.wait_dead()

    def __del__(self) -> None:
        with suppress(Exception):
            if self.proc and self.proc.poll() is None:
                self.proc.kill()


@asynccontextmanager
async def two_web_nodes(tmp_path: Path, redis_url: str) -> AsyncIterator[tuple[aiohttp.ClientSession,
                                                                              aiohttp.ClientSession]]:
    """Two server processes on one Redis and one database, each with a client session: A runs every
    actor, B (ROLE=web) only serves HTTP and WebSockets, so what B knows it learnt from Redis."""
    shared = {"REDIS_URL": redis_url, "STREAM_PREFIX": f"two{uuid.uuid4().hex[:10]}",
              "DATABASE_URL": f"sqlite:///{tmp_path / 'shared.db'}", "JWT_SECRET": "j" * 48,
              "MASTER_KEY": "cd" * 32}
    a = ServerProcess(tmp_path / "a", {**shared, "NODE_NAME": "web-a"})
    b = ServerProcess(tmp_path / "b", {**shared, "NODE_NAME": "web-b", "ROLE": "web"})
    try:
        url_a, url_b = a.start(), b.start()
        async with aiohttp.ClientSession(url_a) as on_a, aiohttp.ClientSession(url_b) as on_b:
            yield on_a, on_b
    finally:
        b.stop()
        a.stop()


# --- user events: one of each kind with every field set, and the sparse ones (the codec's and the
# renderers' tests share them) ---------------------------------------------------------------------

def _sample_events() -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    from app.cfd.rules import Direction
    from app.cfd.rules import Position as CfdPosition
    from app.domain.orders import OrderStatus, OrderType, Side, TimeInForce
    from app.domain.positions import Position
    from app.events import (
        Balance,
        BalancesChanged,
        CfdChanged,
        OrderFill,
        OrderRecord,
        OrderUpdated,
        PositionsChanged,
    )

    many = Decimal("12345678901234567890.123456789012345678")
    order = OrderRecord(
        id=2**40, client_order_id="c-1", symbol="BTCUSDT", side=Side.SELL, type=OrderType.STOP_LOSS_LIMIT,
        time_in_force=TimeInForce.GTC, price=Decimal("67250.01"), quantity=Decimal("0.50000000"),
        quote_order_qty=Decimal("0.00000001"), executed_qty=Decimal("0.25"), cumm_quote_qty=many,
        status=OrderStatus.PARTIALLY_FILLED, reject_reason="why not", stop_price=Decimal("67000.00000000"),
        trailing_delta=250, triggered=True, order_list_id=2**40, created_at=1_700_000_000_000,
        updated_at=1_700_000_000_001, version=3)
    bare = OrderRecord(
        id=1, client_order_id="web-x", symbol="ETHUSDT", side=Side.BUY, type=OrderType.MARKET, time_in_force=None,
        price=None, quantity=None, quote_order_qty=Decimal("100"), executed_qty=Decimal(0),
        cumm_quote_qty=Decimal(0), status=OrderStatus.REJECTED, reject_reason=None, stop_price=None,
        trailing_delta=None, triggered=False, order_list_id=None, created_at=1, updated_at=2, version=1)
    fill = OrderFill(7, Decimal("67250.01"), Decimal("0.00000001"), Decimal("0.0000000000001"), "BNB")
    cfd = CfdPosition(id=12, user_id=9, symbol="BTCUSDT", direction=Direction.LONG, margin=Decimal("100.12345678"),
                      leverage=Decimal("12.5"), entry=Decimal("67250.00"), qty=Decimal("0.0186"),
                      liquidation=Decimal("62000.5"), stop_loss=Decimal("60000"), take_profit=None,
                      opened_at=1_700_000_000_000)
    every = (
        OrderUpdated(9, "12:3", order, (fill, fill)),
        BalancesChanged(9, "12:3", (Balance("BTC", Decimal("0.0000001"), Decimal("100.00000000")),
                                    Balance("USDT", many, Decimal(0)))),
        PositionsChanged(9, "12:3", (Position("BTC", Decimal("0.5"), Decimal("67250.01"), Decimal("-3.2")),)),
        CfdChanged(9, "cfd:0:4", event="OPENED", account_balance=Decimal("1000.5"), cmd_id="u9:open-1",
                   position=cfd, exit_price=Decimal("1"), pnl=Decimal("-2"), fee=Decimal("0.05"),
                   amount=Decimal("3"), payout=Decimal("4"), balance=Decimal("899.95"), reason="r", field="f",
                   code="NO_FUNDS"),
    )
    sparse = (
        OrderUpdated(1, "1:1", bare),
        BalancesChanged(1, "account:1", ()),
        PositionsChanged(1, "1:1", ()),
        CfdChanged(1, "cfd:0:refused:m", event="REJECTED", account_balance=Decimal(0)),
    )
    return every, sparse


EVERY_EVENT, SPARSE_EVENTS = _sample_events()


async def login(session: Any, email: str, password: str = PASSWORD, headers: dict[str, str] | None = None
                ) -> dict[str, Any]:
    """Sign in through the real endpoint (another session of the same account); returns the body."""
    resp = await session.post("/auth/login", json={"email": email, "password": password}, headers=headers)
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def eventually_401(check: Callable[[], Awaitable[int]], within_s: float) -> None:
    """Poll `check` (a request's status) until it answers 401, failing after `within_s`."""
    deadline = time.monotonic() + within_s
    while (status := await check()) != 401:
        assert time.monotonic() < deadline, f"still {status} after {within_s} s"
        await asyncio.sleep(0.05)


async def closed_for_session(ws: Any, within_s: float = 2.0) -> str:
    """The socket is closed by the server with 4001 (session ended) within `within_s`; returns the reason."""
    async with asyncio.timeout(within_s):
        while True:
            msg = await ws.ws.receive()
            if msg.type is not aiohttp.WSMsgType.TEXT:
                assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 4001), msg
                return str(msg.extra or "")


# --- API keys (issue 11) ---------------------------------------------------------------------------

def signed(api_key: str, secret: str, query: str = "", body: bytes = b"", *, timestamp: int | None = None,
           recv_window: int | None = None) -> tuple[str, dict[str, str]]:
    """The `?query&timestamp=..&signature=..` suffix and headers of a request signed as Binance signs."""
    from app.api_keys import sign
    stamp = int(time.time() * 1000) if timestamp is None else timestamp
    params = "&".join(p for p in (query, f"timestamp={stamp}",
                                  f"recvWindow={recv_window}" if recv_window is not None else "") if p)
    return f"?{params}&signature={sign(secret, params.encode() + body)}", {"X-MBX-APIKEY": api_key}


async def new_api_key(session: Any, token: str, permissions: list[str], **extra: Any) -> dict[str, Any]:
    """Create an API key through the real endpoint; the answer holds apiKey and secretKey."""
    resp = await session.post("/api/account/api-keys", headers=auth(token),
                              json={"label": "bot", "permissions": permissions, **extra})
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def signed_call(session: Any, method: str, path: str, key: dict[str, Any], json_body: Any = None,
                      query: str = "", **sign_options: Any) -> Any:
    """One signed request; a JSON body is signed as the exact bytes sent."""
    body = b"" if json_body is None else json.dumps(json_body).encode()
    suffix, headers = signed(key["apiKey"], key["secretKey"], query, body, **sign_options)
    if body:
        headers["Content-Type"] = "application/json"
    return await session.request(method, path + suffix, headers=headers, data=body or None)
