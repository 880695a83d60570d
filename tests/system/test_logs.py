"""What an operator reads: a real server process runs a scripted session, then its log is read.

Start-up is one summary line; each business event is one INFO line; shutdown says "stopped";
nothing secret (the password, the JWT, the WebSocket ticket, the exchange key and secret, the
server's own JWT secret) ever appears. `LOG_FORMAT=json` gives one valid JSON object per line,
and `ACCESS_LOG=on` adds request lines without query strings.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp

from app.logs import JsonFormatter, redact_url
from settings import load_settings
from tests.support.helpers import PASSWORD, ServerProcess, WsClient, auth, new_email
from web.server import summary

API_KEY, SECRET = "A" * 20 + "k3y9", "S" * 60 + "s3cr"
NEW_KEY, NEW_SECRET = "B" * 20 + "n3w7", "T" * 60 + "n3ws"
LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (?P<level>[A-Z]+) +(?P<logger>\S+): (?P<message>.*)$")


async def _session(url: str) -> dict[str, Any]:
    """Register (with exchange keys), sign in, trade, cancel, open and close a CFD position, change keys."""
    email = new_email()
    async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=20)) as http:
        resp = await http.post("/auth/register", json={"email": email, "password": PASSWORD,
                                                       "binanceApiKey": API_KEY, "binanceSecretKey": SECRET})
        assert resp.status == 201, await resp.text()
        wrong = await http.post("/auth/login", json={"email": email, "password": PASSWORD + "x"})
        assert wrong.status == 401
        resp = await http.post("/auth/login", json={"email": email, "password": PASSWORD})
        assert resp.status == 200, await resp.text()
        token = (await resp.json())["token"]
        ticket = (await (await http.post("/api/ws-ticket", headers=auth(token))).json())["ticket"]
        ws = WsClient(await http.ws_connect(f"/ws?ticket={ticket}"))
        await ws.wait_for(lambda m: m["type"] == "SNAPSHOT")
        resp = await http.post("/api/trading/orders", headers=auth(token), json={
            "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01", "clientOrderId": "log-1"})
        assert resp.status == 202, await resp.text()
        filled = (await resp.json())["orderId"]
        await ws.order_status(filled, {"FILLED"})
        resp = await http.post("/api/trading/orders", headers=auth(token), json={
            "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01",
            "price": "1000", "clientOrderId": "log-2"})
        assert resp.status == 202, await resp.text()
        resting = (await resp.json())["orderId"]
        await ws.order_status(resting, {"NEW"})
        assert (await http.delete(f"/api/trading/orders/{resting}", headers=auth(token))).status == 202
        await ws.order_status(resting, {"CANCELED"})
        resp = await http.post("/api/cfd/positions", headers=auth(token), json={
            "symbol": "BTCUSDT", "direction": "LONG", "margin": "100", "leverage": "5"})
        assert resp.status == 201, await resp.text()
        position = (await resp.json())["position"]["id"]
        assert (await http.delete(f"/api/cfd/positions/{position}", headers=auth(token))).status == 200
        resp = await http.put("/api/account/exchange-key", headers=auth(token),
                              json={"apiKey": NEW_KEY, "secretKey": NEW_SECRET})
        assert resp.status < 300, await resp.text()
        assert (await http.delete("/api/account/exchange-key", headers=auth(token))).status < 300
        await ws.close()
        assert (await http.post("/auth/logout", headers=auth(token))).status < 300
    return {"token": token, "ticket": ticket, "filled": filled, "resting": resting, "position": position}


def _secrets(data_dir: Path, seen: dict[str, Any]) -> list[str]:
    own = [(data_dir / name).read_text().strip() for name in ("jwt_secret", "master_key")]
    return [PASSWORD, seen["token"], seen["ticket"], API_KEY, SECRET, NEW_KEY, NEW_SECRET, *[s for s in own if s]]


async def test_a_session_logs_one_line_per_business_event_and_no_secret(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", {"SYMBOLS": "BTCUSDT"})
    loop = asyncio.get_running_loop()
    url = await loop.run_in_executor(None, server.start)
    seen = await _session(url)
    assert await loop.run_in_executor(None, server.stop) == 0
    text = server.log_path.read_text()
    lines = [LINE.match(line) for line in text.splitlines()]
    assert all(lines), [line for line in text.splitlines() if not LINE.match(line)]
    records = [(m["level"], m["message"]) for m in lines if m]
    first, *_ = records
    assert first[0] == "INFO" and first[1].startswith("Troupe ") and f"ready at {url}/" in first[1]
    for part in ("ROLE=all", "database sqlite:///", "redis bundled", "exchange simulator",
                 "price feed simulated", "actors price-feed, executor-0, broadcaster, gateway"):
        assert part in first[1]
    messages = [m for _, m in records]
    wanted = [r"registered user \d+ with an exchange key",
              rf"order {seen['filled']} accepted: user \d+ MARKET BUY 0.01 BTCUSDT",
              rf"order {seen['filled']} FILLED: user \d+ MARKET",
              rf"order {seen['resting']} accepted: user \d+ LIMIT BUY 0.01 BTCUSDT",
              rf"order {seen['resting']} cancel requested: user \d+",
              rf"order {seen['resting']} CANCELED: user \d+ LIMIT",
              rf"cfd position {seen['position']} OPENED: user \d+ LONG \S+ BTCUSDT x5 at \S+",
              rf"cfd position {seen['position']} CLOSED: user \d+ LONG \S+ BTCUSDT at \S+, pnl \S+",
              r"user \d+ set its exchange key \(ending n3w7\)",
              r"user \d+ removed its exchange key"]
    for pattern in wanted:
        assert sum(bool(re.fullmatch(pattern, m)) for m in messages) == 1, (pattern, messages)
    assert messages[-1] == "stopped"
    assert not [m for m in messages if re.search(r" (GET|POST|PUT|DELETE) /", m)]  # ACCESS_LOG is off by default
    for secret in _secrets(server.data_dir, seen):
        assert secret not in text


def test_the_summary_line_masks_passwords(tmp_path: Path) -> None:
    settings = replace(load_settings({}), data_dir=tmp_path, database_url="postgresql://troupe:pg-pass@db:5432/t",
                       redis_url="redis://:redis-pass@cache:6379/0?ssl_cert_reqs=none", role="web")
    line = summary(settings, False, ["price-feed", "broadcaster", "gateway"], "ready at http://0.0.0.0:8080/")
    assert "database postgresql://troupe:***@db:5432/t" in line and "redis redis://:***@cache:6379/0," in line
    assert "pg-pass" not in line and "redis-pass" not in line and "ROLE=web" in line
    assert redact_url("sqlite:////srv/troupe.db") == "sqlite:////srv/troupe.db"
    assert redact_url("postgresql://troupe@db/t") == "postgresql://troupe@db/t"


def test_the_json_formatter_writes_one_line_per_record_even_with_a_traceback() -> None:
    logger = logging.getLogger("troupe.test-json")
    try:
        raise ValueError("two\nlines")
    except ValueError:
        record = logger.makeRecord(logger.name, logging.ERROR, __file__, 1, "failed %s", ("once",),
                                   sys.exc_info(), extra={"orderId": 7})
    line = JsonFormatter().format(record)
    assert "\n" not in line
    out = json.loads(line)
    assert out["message"] == "failed once" and out["level"] == "ERROR" and out["orderId"] == 7
    assert "ValueError: two\nlines" in out["exc"]


async def test_json_logs_are_one_object_per_line_and_the_access_log_hides_queries(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data", {"SYMBOLS": "BTCUSDT", "LOG_FORMAT": "json", "ACCESS_LOG": "on"})
    loop = asyncio.get_running_loop()
    url = await loop.run_in_executor(None, server.start)
    async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=20)) as http:
        resp = await http.post("/auth/register", json={"email": new_email(), "password": PASSWORD})
        token = (await resp.json())["token"]
        ticket = (await (await http.post("/api/ws-ticket", headers=auth(token))).json())["ticket"]
        await (await http.ws_connect(f"/ws?ticket={ticket}")).close()
        assert (await http.get("/healthz?probe=1")).status == 200
    assert await loop.run_in_executor(None, server.stop) == 0
    text = server.log_path.read_text()
    records = [json.loads(line) for line in text.splitlines()]  # every line is one JSON object
    for record in records:
        assert {"ts", "level", "logger", "message"} <= set(record)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["ts"])
    assert records[0]["level"] == "INFO" and records[0]["message"].startswith("Troupe ")
    assert records[-1]["message"] == "stopped"
    access = [r["message"] for r in records if r["logger"] == "aiohttp.access"]
    assert any(" POST /auth/register 201 " in m for m in access), access
    assert any(" GET /ws " in m for m in access) and any(" GET /healthz 200 " in m for m in access)
    assert not [m for m in access if "?" in m]
    for secret in (PASSWORD, token, ticket):
        assert secret not in text
