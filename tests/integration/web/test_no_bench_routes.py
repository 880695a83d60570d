"""Benchmark aids are not part of the product (issue 9: /api/noop was a production route)."""

from __future__ import annotations

from typing import Any

from tests.support.helpers import auth, register


async def test_there_is_no_noop_route(client: Any) -> None:
    token, _ = await register(client)
    resp = await client.post("/api/noop", json={"symbol": "BTCUSDT"}, headers=auth(token))
    assert resp.status == 404 and resp.content_type == "application/problem+json"
    assert not [r for r in client.app.router.routes() if "noop" in (r.resource.canonical if r.resource else "")]
