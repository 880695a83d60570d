"""Binance client libraries pointed at Troupe, for the tests that drive them: the URLs a ccxt user
sets (REST and, for ccxt.pro, the WebSocket API), a Troupe server process of a test module's own,
and `Account`, a registered user with an API key and Troupe's own API beside the client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ccxt
import pytest
import requests

from tests.support.helpers import PASSWORD, ServerProcess, new_email


def troupe_urls(url: str) -> dict[str, str]:
    """What a ccxt user sets: every Binance API family of ccxt points at Troupe."""
    return {name: f"{url}/api/v3" if name in ("public", "private", "v1") else
            f"{url}/sapi/v1" if name.startswith("sapi") else
            f"{url}/fapi/v1" if name.startswith("fapi") else
            f"{url}/dapi/v1" if name.startswith("dapi") else f"{url}/api/v3"
            for name in ccxt.binance().urls["api"]}


def troupe_pro_urls(url: str, ws: dict[str, Any]) -> dict[str, Any]:
    """ccxt.pro's as well: its spot market streams at `ws://<host>/ws` (it connects to `/ws/<n>`, then
    SUBSCRIBEs) and its spot WebSocket API (user data, orders over WebSocket) at Troupe's /ws-api/v3."""
    base = "ws" + url.removeprefix("http")
    return {**troupe_urls(url), "ws": {**ws, "spot": f"{base}/ws", "ws-api": {"spot": f"{base}/ws-api/v3"}}}


def stream_url(url: str) -> str:
    """python-binance's `BinanceSocketManager.STREAM_URL`: it appends `ws/<stream>` or `stream?streams=...`."""
    return "ws" + url.removeprefix("http") + "/"


def serve(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[str]:
    """A Troupe server process for a test module (its fixture yields from this)."""
    server = ServerProcess(Path(tmp_path_factory.mktemp(name)) / "data")
    url = server.start()
    try:
        yield url
    finally:
        server.stop()


class Account:
    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        r = self.http.post(f"{url}/auth/register", json={"email": new_email(), "password": PASSWORD})
        assert r.status_code == 201, r.text
        self.http.headers["Authorization"] = f"Bearer {r.json()['token']}"
        r = self.http.post(f"{url}/api/account/api-keys", json={"label": "ccxt bot", "permissions": ["read", "trade"]})
        assert r.status_code == 201, r.text
        self.key = r.json()

    def get(self, path: str) -> Any:
        r = self.http.get(self.url + path)
        assert r.status_code == 200, r.text
        return r.json()

    def exchange(self) -> ccxt.binance:
        ex = ccxt.binance({"apiKey": self.key["apiKey"], "secret": self.key["secretKey"], "enableRateLimit": False})
        ex.urls["api"] = troupe_urls(self.url)
        return ex
