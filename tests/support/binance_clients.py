"""Pointing real Binance clients at a Troupe: what a ccxt or python-binance user sets (their URLs only)."""

from __future__ import annotations

from typing import Any

import ccxt


def troupe_urls(url: str) -> dict[str, str]:
    """What a ccxt user sets: every Binance API family of ccxt points at Troupe."""
    return {name: f"{url}/api/v3" if name in ("public", "private", "v1") else
            f"{url}/sapi/v1" if name.startswith("sapi") else
            f"{url}/fapi/v1" if name.startswith("fapi") else
            f"{url}/dapi/v1" if name.startswith("dapi") else f"{url}/api/v3"
            for name in ccxt.binance().urls["api"]}


def ccxt_pro_urls(url: str, ws_api: dict[str, Any]) -> dict[str, Any]:
    """ccxt.pro's too: its market streams at `ws://<host>/ws` (it connects to `/ws/<n>`, then SUBSCRIBEs)."""
    ws = "ws" + url.removeprefix("http")
    return {**troupe_urls(url), "ws": {**ws_api, "spot": f"{ws}/ws"}}


def stream_url(url: str) -> str:
    """python-binance's `BinanceSocketManager.STREAM_URL`: it appends `ws/<stream>` or `stream?streams=...`."""
    return "ws" + url.removeprefix("http") + "/"
