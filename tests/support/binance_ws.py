"""A Binance WebSocket API client for tests: requests signed as Binance's docs sign them (parameters
sorted by name, `name=value` joined by `&`, HMAC-SHA256), answers matched by id, and the events that
arrive in between kept for `WsClient.wait_for`."""

from __future__ import annotations

import itertools
import time
from typing import Any

from app.api_keys import sign
from tests.support.helpers import WsClient

_ids = itertools.count(1)


def ws_signed(key: dict[str, Any], params: dict[str, Any], *, timestamp: int | None = None) -> dict[str, Any]:
    out = {**params, "apiKey": key["apiKey"], "timestamp": timestamp or int(time.time() * 1000)}
    payload = "&".join(f"{k}={v}" for k, v in sorted(out.items()))
    return {**out, "signature": sign(key["secretKey"], payload.encode())}


class WsApi(WsClient):
    async def call(self, method: str, params: dict[str, Any] | None = None, key: dict[str, Any] | None = None,
                   timeout: float = 15.0) -> dict[str, Any]:
        """The answer to one request (`key`: signed with it)."""
        request_id = f"t{next(_ids)}"
        body: dict[str, Any] = {"id": request_id, "method": method}
        if params is not None or key is not None:
            body["params"] = ws_signed(key, params or {}) if key is not None else params
        await self.send(body)
        return await self.wait_for(lambda m: m.get("id") == request_id, timeout)

    def events(self, kind: str, **match: Any) -> list[dict[str, Any]]:
        """The events seen so far of `kind`, unwrapped, whose fields equal `match`."""
        out = []
        for msg in self.seen:
            ev = msg.get("event", msg) if "subscriptionId" in msg else msg
            if ev.get("e") == kind and all(ev.get(k) == v for k, v in match.items()):
                out.append(ev)
        return out

    async def event(self, kind: str, timeout: float = 15.0, **match: Any) -> dict[str, Any]:
        def wanted(m: dict[str, Any]) -> bool:
            ev = m.get("event", m) if "subscriptionId" in m else m
            return ev.get("e") == kind and all(ev.get(k) == v for k, v in match.items())
        msg = await self.wait_for(wanted, timeout)
        return dict(msg.get("event", msg)) if "subscriptionId" in msg else msg
