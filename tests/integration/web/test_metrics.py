"""/metrics: scraped over HTTP and parsed with prometheus-client's own parser; counters move after
an order; METRICS_TOKEN protects it; the executor node's server (METRICS_PORT) answers on a real socket."""

from __future__ import annotations

import http.client
import json
from collections.abc import Awaitable, Callable
from typing import Any

from app import metrics
from tests.support.helpers import METRICS_TOKEN as TOKEN
from tests.support.helpers import MetricSamples as Samples
from tests.support.helpers import auth, open_ws, register
from tests.support.helpers import metric_value as value
from tests.support.helpers import parse_metrics as parse
from web.app_keys import SETTINGS
from web.metrics_views import MetricsServer


async def scrape(client: Any, headers: dict[str, str] | None = None) -> Samples:
    resp = await client.get("/metrics", headers=headers or {})
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/plain; version=")
    return parse(await resp.text())


async def test_an_order_moves_the_counters_and_histograms(client: Any) -> None:
    token, _ = await register(client)
    ws = await open_ws(client, token)
    before = await scrape(client)
    resp = await client.post("/api/trading/orders", headers=auth(token), json={
        "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.01", "clientOrderId": "metrics-1"})
    assert resp.status == 202, await resp.text()
    order_id = (await resp.json())["orderId"]
    await ws.order_status(order_id, {"FILLED"})
    refused = await client.post("/api/trading/orders", headers=auth(token), json={
        "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.00000001",
        "price": "1000", "clientOrderId": "metrics-2"})
    assert refused.status == 422, await refused.text()  # below the lot size: the Gateway refuses it
    after = await scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("troupe_orders_total", venue="simulator", type="MARKET", outcome="accepted") == 1
    assert moved("troupe_orders_total", venue="simulator", type="MARKET", outcome="FILLED") == 1
    assert moved("troupe_orders_total", venue="simulator", type="LIMIT", outcome="rejected") == 1
    assert moved("troupe_hop_seconds_count", hop="accept_to_commit") >= 1
    assert moved("troupe_hop_seconds_count", hop="submit_to_commit") >= 1
    assert moved("troupe_hop_seconds_count", hop="ws_fanout") >= 1
    assert moved("troupe_db_transaction_seconds_count", actor="gateway") >= 1
    assert moved("troupe_db_transaction_seconds_count", actor="executor-0") + \
        moved("troupe_db_transaction_seconds_count", actor="executor-1") >= 1
    assert value(after, "troupe_ws_connections") >= 1
    # Sampled from Redis on the scrape: every mailbox's consumer group, every symbol's price age.
    prefix = client.app[SETTINGS].stream_prefix
    for stream, group in ((f"{prefix}:mbox:gateway", "gateway"), (f"{prefix}:mbox:executor:0", "executor-0"),
                          (f"{prefix}:mbox:executor:1", "executor-1")):
        assert ("troupe_mailbox_pending", (("group", group), ("stream", stream))) in after
        assert ("troupe_mailbox_lag_seconds", (("group", group), ("stream", stream))) in after
    assert 0 <= value(after, "troupe_price_age_seconds", symbol="BTCUSDT") < 60
    assert value(after, "troupe_price_stale", symbol="BTCUSDT") == 0
    assert ("troupe_cfd_open_positions", (("shard", "0"),)) in after or \
        ("troupe_cfd_open_positions", (("shard", "1"),)) in after
    await ws.close()


async def test_metrics_token_is_required_when_set(make_client: Callable[..., Awaitable[Any]]) -> None:
    client = await make_client(metrics_token=TOKEN)
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": f"Basic {TOKEN}"}):
        resp = await client.get("/metrics", headers=headers)
        assert resp.status == 401
        assert resp.headers["Content-Type"].startswith("application/problem+json")
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await resp.json())["code"] == "UNAUTHORIZED"
    samples = await scrape(client, {"Authorization": f"Bearer {TOKEN}"})
    assert ("troupe_ws_connections", ()) in samples


def _get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def test_executor_node_server_serves_metrics_and_readiness() -> None:
    ready = [True]
    server = MetricsServer("127.0.0.1", 0, TOKEN, lambda: ready[0])
    server.start()
    try:
        port = server.port
        status, body = _get(port, "/metrics")
        assert status == 401 and json.loads(body)["code"] == "UNAUTHORIZED"
        metrics.ACTOR_RESTARTS.labels("executor-test").inc()
        status, body = _get(port, "/metrics", {"Authorization": f"Bearer {TOKEN}"})
        assert status == 200
        assert value(parse(body), "troupe_actor_restarts_total", actor="executor-test") >= 1
        assert _get(port, "/readyz")[0] == 200
        ready[0] = False
        status, body = _get(port, "/readyz")
        assert status == 503 and json.loads(body)["status"] == "not ready"
        assert _get(port, "/elsewhere")[0] == 404
    finally:
        server.stop()


def test_observe_hops_records_known_and_new_hops() -> None:
    before = parse(_exposition())
    metrics.observe_hops({"accept_to_commit": 0.002, "push_to_browser": 0.004})
    after = parse(_exposition())
    assert value(after, "troupe_hop_seconds_count", hop="accept_to_commit") == \
        value(before, "troupe_hop_seconds_count", hop="accept_to_commit") + 1
    assert value(after, "troupe_hop_seconds_count", hop="push_to_browser") >= 1


def _exposition() -> str:
    from prometheus_client import generate_latest
    return generate_latest(metrics.REGISTRY).decode()
