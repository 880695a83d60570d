"""Binance's WebSocket API (`/ws-api/v3`), pure: the request frame parsed and vetted, the method
table, what a signature covers, and the answer frames, in Binance's shapes.

A request is `{"id", "method", "params"}`; an answer is `{"id", "status", "result", "rateLimits"}` or
`{"id", "status", "error": {"code", "msg"}, "rateLimits"}` with the HTTP status the same error has
on REST. Parameters are a JSON object whose values are strings, numbers (kept as their literal text,
never a float) or booleans; the rest of the request path reads them as the REST route's `Params`.
A signed request's signature covers its parameters but `signature`, sorted by name, `name=value`
joined by `&` (Binance's rule); python-binance percent-encodes the values first, so that form is
accepted as well (the same HMAC under the same secret).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from app.binance_api.errors import BinanceError, mandatory

MAX_ID = 36  # a string id is at most 36 characters (a UUID)


@dataclass(frozen=True, slots=True)
class Method:
    """A method's request weight, and the permission its key needs (None: not signed; "any": signed by
    any live key)."""

    weight: int
    permission: str | None = None


METHODS: dict[str, Method] = {
    "ping": Method(1),
    "time": Method(1),
    "session.status": Method(2),
    "session.subscriptions": Method(2),
    "session.logon": Method(2, "any"),
    "session.logout": Method(2),
    "userDataStream.subscribe": Method(2, "read"),
    "userDataStream.subscribe.signature": Method(2, "read"),
    "userDataStream.unsubscribe": Method(2),
    "order.place": Method(1, "trade"),
    "order.test": Method(1, "trade"),
    "order.cancel": Method(1, "trade"),
    "order.status": Method(4, "read"),
    "openOrders.status": Method(6, "read"),
    "account.status": Method(20, "read"),
}
ALL_OPEN_ORDERS_WEIGHT = 80  # openOrders.status without a symbol
SESSION_PARAMS = ("apiKey", "returnRateLimits")  # read by the API itself, never by a method


@dataclass(frozen=True, slots=True)
class Request:
    id: str | int | None
    method: str
    params: dict[str, str]  # as signed; `returnRateLimits` and `apiKey` are the API's, not the method's

    @property
    def wants_limits(self) -> bool:
        """`returnRateLimits=false` leaves `rateLimits` out of the answer."""
        return self.params.get("returnRateLimits") != "false"


class FrameError(Exception):
    """A frame refused before its method ran: Binance's error, and the id if one could be read."""

    def __init__(self, request_id: str | int | None, error: BinanceError) -> None:
        super().__init__(error.msg)
        self.request_id, self.error = request_id, error


def parse_request(text: str | bytes) -> Request:
    """The request in a text frame, or FrameError (never anything else)."""
    try:
        data = json.loads(text, parse_float=_Literal, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError):
        raise FrameError(None, BinanceError(-1100, "Illegal characters found in a parameter.")) from None
    if not isinstance(data, dict):
        raise FrameError(None, BinanceError(-1100, "Illegal characters found in a parameter."))
    request_id = _id(data.get("id"))
    method = data.get("method")
    if not isinstance(method, str) or not method:
        raise FrameError(request_id, mandatory("method"))
    if method not in METHODS:
        raise FrameError(request_id, BinanceError(-1020, "This operation is not supported."))
    unknown = set(data) - {"id", "method", "params"}
    if unknown:
        raise FrameError(request_id, BinanceError(-1101, "Too many parameters sent for this endpoint."))
    raw = data.get("params", {})
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise FrameError(request_id, mandatory("params"))
    params: dict[str, str] = {}
    for name, value in raw.items():
        if isinstance(value, bool):
            params[name] = "true" if value else "false"
        elif isinstance(value, str | int):  # a _Literal is a str: the number's text, never a float
            params[name] = str(value)
        else:
            raise FrameError(request_id, BinanceError(
                -1100, f"Illegal characters found in parameter '{name}'; legal range is 'a string or a number'."))
    return Request(request_id, method, params)


class _Literal(str):
    """A JSON number with a fraction or exponent, kept as its text (never a float)."""

    __slots__ = ()


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def _id(raw: Any) -> str | int | None:
    """The id as sent (answers echo it): null, a whole number or a string of at most 36 characters."""
    if raw is None or (type(raw) is int and 0 <= raw < 2**63):
        return raw
    if type(raw) is str and 0 < len(raw) <= MAX_ID:
        return raw
    raise FrameError(None, mandatory("id"))


def payloads(params: dict[str, str]) -> tuple[bytes, bytes | None]:
    """What a signature covers: every parameter but `signature`, sorted by name; and the percent-encoded
    form when it differs."""
    items = sorted((k, v) for k, v in params.items() if k != "signature")
    raw = "&".join(f"{k}={v}" for k, v in items).encode()
    encoded = urlencode(items).encode()
    return raw, (encoded if encoded != raw else None)


def rate_limits(limit: int, used: int) -> list[dict[str, Any]]:
    return [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": limit,
             "count": used}]


def result_frame(request_id: str | int | None, result: Any, limits: list[dict[str, Any]] | None) -> dict[str, Any]:
    frame = {"id": request_id, "status": 200, "result": result}
    if limits is not None:
        frame["rateLimits"] = limits
    return frame


def error_frame(request_id: str | int | None, error: BinanceError, limits: list[dict[str, Any]] | None
                ) -> dict[str, Any]:
    frame: dict[str, Any] = {"id": request_id, "status": error.status, "error": error.body()}
    if limits is not None:
        frame["rateLimits"] = limits
    return frame


def session_status(api_key: str | None, authorized_since: int | None, connected_since: int, subscribed: bool,
                   now: int) -> dict[str, Any]:
    """session.status's result."""
    return {"apiKey": api_key, "authorizedSince": authorized_since, "connectedSince": connected_since,
            "returnRateLimits": True, "serverTime": now, "userDataStream": subscribed}
