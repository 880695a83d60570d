"""Metrics of a split deployment: each process serves its own registry (no shared files); the web node
on its HTTP port, the executor node on METRICS_PORT, both behind METRICS_TOKEN. Prometheus sums them."""

from __future__ import annotations

import asyncio
import socket
import uuid
from pathlib import Path

import aiohttp
import pytest

from tests.support.helpers import METRICS_TOKEN as TOKEN
from tests.support.helpers import SPLIT_ENV, ServerProcess, WsClient, auth, register, run_until_exit
from tests.support.helpers import metric_value as value
from tests.support.helpers import parse_metrics as parse

pytestmark = pytest.mark.crash


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_web_and_executor_nodes_each_serve_their_metrics(tmp_path: Path) -> None:
    data, port = tmp_path / "data", _free_port()
    web_node = ServerProcess(data, {"ROLE": "web", "NODE_NAME": "web-1", **SPLIT_ENV, "METRICS_TOKEN": TOKEN})
    executors = ServerProcess(data, {"ROLE": "executor", "NODE_NAME": "exec-1", **SPLIT_ENV, "METRICS_TOKEN": TOKEN,
                                     "METRICS_PORT": str(port)})
    loop = asyncio.get_running_loop()
    url = await loop.run_in_executor(None, web_node.start)
    await loop.run_in_executor(None, executors.start)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    try:
        async with aiohttp.ClientSession(url, timeout=aiohttp.ClientTimeout(total=20)) as http:
            token, _ = await register(http)
            ticket = (await (await http.post("/api/ws-ticket", headers=auth(token))).json())["ticket"]
            ws = WsClient(await http.ws_connect(f"/ws?ticket={ticket}"))
            await ws.wait_for(lambda m: m["type"] == "SNAPSHOT")
            resp = await http.post("/api/trading/orders", headers=auth(token), json={
                "symbol": "SOLUSDT", "side": "SELL", "type": "MARKET", "quantity": "1.000", "clientOrderId": "m-1"})
            assert resp.status == 202, await resp.text()
            await ws.order_status((await resp.json())["orderId"], {"FILLED"})
            assert (await http.get("/metrics")).status == 401
            web = parse(await (await http.get("/metrics", headers=bearer)).text())
            exec_url = f"http://127.0.0.1:{port}"
            assert (await http.get(exec_url + "/metrics")).status == 401
            executor = parse(await (await http.get(exec_url + "/metrics", headers=bearer)).text())
            assert (await http.get(exec_url + "/readyz")).status == 200
            await ws.close()
    finally:
        await loop.run_in_executor(None, executors.stop)
        await loop.run_in_executor(None, web_node.stop)
    # The web node counts what its Gateway accepted; the executor node what its shards filled.
    assert value(web, "troupe_orders_total", venue="simulator", type="MARKET", outcome="accepted") == 1
    assert value(web, "troupe_orders_total", venue="simulator", type="MARKET", outcome="FILLED") == 0
    assert value(executor, "troupe_orders_total", venue="simulator", type="MARKET", outcome="FILLED") == 1
    assert value(executor, "troupe_hop_seconds_count", hop="submit_to_commit") >= 1
    # Mailboxes are the deployment's, sampled from Redis by the web node: the executor shards' too.
    for shard in (0, 1):
        assert ("troupe_mailbox_pending", (("group", f"executor-{shard}"),
                                           ("stream", f"troupe:mbox:executor:{shard}"))) in web
    assert "metrics at http://127.0.0.1:" in executors.log_path.read_text()


def test_an_executor_node_whose_metrics_port_is_taken_refuses_to_start(tmp_path: Path, redis_url: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run_until_exit(tmp_path / "data", {"ROLE": "executor", "METRICS_PORT": str(port),
                                                  "REDIS_URL": redis_url,
                                                  "STREAM_PREFIX": f"t{uuid.uuid4().hex[:10]}"})
    assert done.returncode == 2, done.stderr
    assert f"METRICS_PORT: cannot listen on 127.0.0.1:{port}" in done.stderr
