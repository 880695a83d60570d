"""A client for Binance Spot (Testnet) REST, as Binance documents it.

Signed requests: HMAC-SHA256 over the exact query string (`signature` appended last), the key in
`X-MBX-APIKEY`, `timestamp` corrected by the offset measured from `/api/v3/time`, and `recvWindow`.
Decimals go out as exact strings and come back as `Decimal`; nothing is ever a float.

Errors are sorted by what the caller may do next:
- `StatusUnknown` (HTTP 5xx, -1006, -1007, a timeout or a dropped connection): the order may or may
  not exist. Never send it again blindly; query it by `origClientOrderId`.
- `RateLimited` (429/418): wait `retry_after` seconds.
- `Rejected` (-2010, -1013, -2011, -2013, ...): Binance refused; its message says why.
- `AuthFailed` (-1022, -2014, -2015): the keys are wrong or lack permission.
A -1021 (clock outside recvWindow) resynchronises the clock and retries once: such a request never
reached the matching engine, so the retry cannot double anything.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx

from app.money import to_str

log = logging.getLogger(__name__)

DEFAULT_RECV_WINDOW_MS = 5000
STATUS_UNKNOWN_CODES = frozenset({-1006, -1007})
AUTH_CODES = frozenset({-1002, -1022, -2014, -2015})
Params = list[tuple[str, str]]


class BinanceError(Exception):
    def __init__(self, message: str, code: int | None = None, http_status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status
        self.message = message


class StatusUnknown(BinanceError):
    """The request may or may not have been executed."""


class RateLimited(BinanceError):
    def __init__(self, message: str, retry_after: float, code: int | None, http_status: int) -> None:
        super().__init__(message, code, http_status)
        self.retry_after = retry_after


class Rejected(BinanceError):
    """Binance refused the request; nothing was executed."""


class AuthFailed(BinanceError):
    pass


class ClockSkew(BinanceError):
    pass


def sign(secret: str, payload: str) -> str:
    """HMAC-SHA256 of the signature payload (query string + body), as lowercase hex."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def _value(value: object) -> str:
    if isinstance(value, Decimal):
        return to_str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return str(value)
    raise TypeError(f"unsupported parameter type {type(value).__name__}")  # a float never reaches Binance


def params(**values: object) -> Params:
    """Parameters in the order given, None dropped, decimals as exact plain strings."""
    return [(k, _value(v)) for k, v in values.items() if v is not None]


def _json(response: httpx.Response) -> Any:
    return json.loads(response.content, parse_float=Decimal)


class BinanceClient:
    """One user's view of Binance Spot; `http` may be shared (it is thread-safe)."""

    def __init__(self, base_url: str, api_key: str, secret: str, http: httpx.Client,
                 recv_window_ms: int = DEFAULT_RECV_WINDOW_MS, clock: Callable[[], float] = time.time) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self._secret = secret
        self.http = http
        self.recv_window_ms = recv_window_ms
        self.clock = clock
        self.offset_ms = 0

    def __repr__(self) -> str:  # never show the secret, not even in a traceback
        return f"BinanceClient({self.base_url!r}, key=...{self.api_key[-4:]})"

    # --- plumbing --------------------------------------------------------------------------------
    def now_ms(self) -> int:
        return int(self.clock() * 1000) + self.offset_ms

    def sync_clock(self) -> int:
        """Measure the offset to Binance's clock (half the round trip counts as transit)."""
        before = self.clock()
        server = int(self.public("GET", "/v3/time")["serverTime"])
        after = self.clock()
        self.offset_ms = server - int((before + after) / 2 * 1000)
        return self.offset_ms

    def public(self, method: str, path: str, query: Params | None = None) -> Any:
        return self._send(method, path, urlencode(query or []), signed=False)

    def signed(self, method: str, path: str, query: Params) -> Any:
        try:
            return self._send(method, path, self._signed_query(query), signed=True)
        except ClockSkew:
            log.warning("binance: timestamp outside recvWindow; resynchronising the clock and retrying once")
            self.sync_clock()
            return self._send(method, path, self._signed_query(query), signed=True)

    def _signed_query(self, query: Params) -> str:
        full = [*query, ("recvWindow", str(self.recv_window_ms)), ("timestamp", str(self.now_ms()))]
        payload = urlencode(full)
        return f"{payload}&signature={sign(self._secret, payload)}"

    def _send(self, method: str, path: str, query: str, signed: bool) -> Any:
        url = f"{self.base_url}{path}" + (f"?{query}" if query else "")
        headers = {"X-MBX-APIKEY": self.api_key} if signed else {}
        try:
            response = self.http.request(method, url, headers=headers)
        except httpx.TimeoutException as exc:
            raise StatusUnknown(f"no answer from Binance in time ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            # The request may have left before the connection broke: its fate is unknown.
            raise StatusUnknown(f"connection to Binance failed ({type(exc).__name__})") from exc
        return self._result(response)

    def _result(self, response: httpx.Response) -> Any:
        status = response.status_code
        try:
            body = _json(response)
        except ValueError:
            body = None
        code = body.get("code") if isinstance(body, dict) else None
        msg = body.get("msg", "") if isinstance(body, dict) else response.text[:200]
        if status < 300 and code is None:
            return body
        if status in (429, 418):
            retry = float(response.headers.get("Retry-After", "1") or 1)
            raise RateLimited(f"Binance rate limit: {msg}", retry, code, status)
        if status >= 500 or code in STATUS_UNKNOWN_CODES:
            raise StatusUnknown(f"Binance answered {status} {code}: {msg}", code, status)
        if code == -1021:
            raise ClockSkew(str(msg), code, status)
        if code in AUTH_CODES or status in (401, 403):
            raise AuthFailed(f"Binance refused the API key: {msg}", code, status)
        raise Rejected(str(msg) or f"HTTP {status}", code, status)

    # --- endpoints -------------------------------------------------------------------------------
    def exchange_info(self, symbols: list[str]) -> dict[str, Any]:
        return self.public("GET", "/v3/exchangeInfo", [("symbols", json.dumps(symbols, separators=(",", ":")))])

    def klines(self, symbol: str, interval: str, limit: int = 500) -> list[list[Any]]:
        return self.public("GET", "/v3/klines", params(symbol=symbol, interval=interval, limit=limit))

    def new_order(self, symbol: str, side: str, order_type: str, client_order_id: str, *,
                  quantity: Decimal | None = None, quote_order_qty: Decimal | None = None,
                  price: Decimal | None = None, time_in_force: str | None = None,
                  stop_price: Decimal | None = None, trailing_delta: int | None = None) -> dict[str, Any]:
        return self.signed("POST", "/v3/order", params(
            symbol=symbol, side=side, type=order_type, timeInForce=time_in_force, quantity=quantity,
            quoteOrderQty=quote_order_qty, price=price, stopPrice=stop_price, trailingDelta=trailing_delta,
            newClientOrderId=client_order_id, newOrderRespType="FULL"))

    def new_oco(self, symbol: str, side: str, quantity: Decimal, list_client_order_id: str,
                above: dict[str, Any], below: dict[str, Any]) -> dict[str, Any]:
        """An OCO list; `above`/`below` hold type, clientOrderId, price, stopPrice, trailingDelta, timeInForce."""
        def leg(prefix: str, spec: dict[str, Any]) -> dict[str, object]:
            return {f"{prefix}{k[0].upper()}{k[1:]}": v for k, v in spec.items()}
        return self.signed("POST", "/v3/orderList/oco", params(
            symbol=symbol, side=side, quantity=quantity, listClientOrderId=list_client_order_id,
            **leg("above", above), **leg("below", below), newOrderRespType="FULL"))

    def query_order(self, symbol: str, client_order_id: str) -> dict[str, Any]:
        return self.signed("GET", "/v3/order", params(symbol=symbol, origClientOrderId=client_order_id))

    def cancel_order(self, symbol: str, client_order_id: str) -> dict[str, Any]:
        return self.signed("DELETE", "/v3/order", params(symbol=symbol, origClientOrderId=client_order_id))

    def my_trades(self, symbol: str, order_id: int) -> list[dict[str, Any]]:
        return self.signed("GET", "/v3/myTrades", params(symbol=symbol, orderId=order_id))

    def account(self) -> dict[str, Any]:
        return self.signed("GET", "/v3/account", params(omitZeroBalances="true"))

