"""Symbol filters from Binance's /api/v3/exchangeInfo, cached on disk for when Binance is away."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx

from app.domain.symbols import SymbolSpec
from app.exchange.binance import BinanceClient, BinanceError
from app.exchange.translate import specs_from_exchange_info

log = logging.getLogger(__name__)


def load_specs(api_url: str, data_dir: Path, base: dict[str, SymbolSpec], timeout_s: float) -> dict[str, SymbolSpec]:
    cache = data_dir / "binance-exchange-info.json"
    try:
        with httpx.Client(timeout=timeout_s) as http:
            info = BinanceClient(api_url, "", "", http).exchange_info(list(base))
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(info))
        tmp.replace(cache)
        log.info("binance: symbol filters loaded from %s/v3/exchangeInfo", api_url)
    except (BinanceError, OSError) as exc:
        if not cache.exists():
            raise RuntimeError(f"cannot read Binance's exchangeInfo from {api_url} ({exc}) and there is no "
                               f"cached copy in {cache}") from exc
        log.warning("binance: exchangeInfo unavailable (%s); using the cached copy from %s", exc, cache)
        info = json.loads(cache.read_text())
    return specs_from_exchange_info(info, base)
