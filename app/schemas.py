"""Request parsing for the HTTP API and WebSocket, in one module (the responses: app/render.py).

Parsing is strict: unknown or duplicate fields, wrong JSON types, booleans for numbers, NaN,
exponents and non-ASCII digits are all refused with a message naming the field.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.domain.oco import OcoRequest
from app.domain.orders import OrderRequest, OrderType, Side, TimeInForce
from app.money import ASSET_SCALE, MoneyFormatError, parse_amount, to_str
from app.security.passwords import MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS


class SchemaError(ValueError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class _Number(str):
    """The literal text of a JSON number, kept exact (never converted through float)."""


def _reject_constant(name: str) -> Any:
    raise SchemaError(f"{name} is not a number Troupe accepts")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise SchemaError(f"field {key!r} appears more than once", key)
        out[key] = value
    return out


def loads(body: bytes | str) -> Any:
    try:
        data = json.loads(body, parse_float=_Number, parse_int=_Number, parse_constant=_reject_constant,
                          object_pairs_hook=_no_duplicates)
    except SchemaError:
        raise
    except RecursionError:
        raise SchemaError("JSON is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise SchemaError(f"body is not valid JSON: {exc}") from None
    refuse_lone_surrogates(data)
    return data


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def refuse_lone_surrogates(data: Any) -> None:
    """Refuse any string, object keys included, that holds a lone UTF-16 surrogate.

    JSON's `\\ud800` escape decodes to one, and such a string cannot be encoded as UTF-8: it would
    fail deep inside hashing or the database instead of here. The walk uses no recursion (the JSON
    may be nested as deeply as the parser allows) and names the top-level field the string is in.
    """
    stack: list[tuple[Any, str | None]] = [(data, None)]
    if isinstance(data, dict):
        stack = [(key, None) for key in data] + [(value, key) for key, value in data.items()]
    while stack:
        item, field = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and _SURROGATE.search(item):
                where = f"{field} contains" if field else "the JSON contains"
                raise SchemaError(f"{where} a lone UTF-16 surrogate (a \\ud800-\\udfff escape without its pair); "
                                  "send valid Unicode text", field)
        elif isinstance(item, dict):
            stack.extend((key, field) for key in item)
            stack.extend((value, field) for value in item.values())
        elif isinstance(item, list):
            stack.extend((value, field) for value in item)


def _object(data: Any, allowed: set[str], required: set[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise SchemaError("body must be a JSON object")
    for key in data:
        if key not in allowed:
            raise SchemaError(f"unknown field {key!r}; allowed: {', '.join(sorted(allowed))}", key)
    for key in sorted(required):
        if data.get(key) is None:
            raise SchemaError(f"{key} is required", key)
    return data


def _string(data: dict[str, Any], key: str, pattern: str, hint: str, optional: bool = False) -> str | None:
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or isinstance(value, _Number):
        raise SchemaError(f"{key} must be a string", key)
    if not re.fullmatch(pattern, value):
        raise SchemaError(f"{key} {hint}", key)
    return value


def _enum(data: dict[str, Any], key: str, enum: type[Any], optional: bool = False) -> Any:
    allowed = [e.value for e in enum]
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or isinstance(value, _Number) or value not in allowed:
        raise SchemaError(f"{key} must be one of {', '.join(allowed)}", key)
    return enum(value)


def _amount(data: dict[str, Any], key: str) -> Decimal | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):  # booleans, lists, objects
        raise SchemaError(f"{key} must be a decimal string such as \"0.5\"", key)
    try:
        amount = parse_amount(str(value))
    except MoneyFormatError as exc:
        raise SchemaError(f"{key} {exc}", key) from None
    if amount <= 0:
        raise SchemaError(f"{key} must be greater than zero", key)
    return amount


CLIENT_ORDER_ID = r"[a-zA-Z0-9_-]{1,36}"
_ORDER_FIELDS = {"symbol", "side", "type", "quantity", "quoteOrderQty", "price", "timeInForce", "clientOrderId",
                 "stopPrice", "trailingDelta"}


def parse_order(data: Any, default_client_id: str) -> OrderRequest:
    body = _object(data, _ORDER_FIELDS, {"symbol", "side", "type"})
    symbol = _string(body, "symbol", r"[A-Z0-9]{2,20}", "must be an upper-case symbol such as BTCUSDT")
    cid = _string(body, "clientOrderId", CLIENT_ORDER_ID, "must be 1-36 characters of A-Z a-z 0-9 _ -",
                  optional=True)
    return OrderRequest(
        client_order_id=cid or default_client_id,
        symbol=str(symbol),
        side=_enum(body, "side", Side),
        type=_enum(body, "type", OrderType),
        quantity=_amount(body, "quantity"),
        quote_order_qty=_amount(body, "quoteOrderQty"),
        price=_amount(body, "price"),
        time_in_force=_enum(body, "timeInForce", TimeInForce, optional=True),
        stop_price=_amount(body, "stopPrice"),
        trailing_delta=_bps(body, "trailingDelta"),
    )


_REPLACE_FIELDS = {"price", "quantity", "stopPrice", "clientOrderId"}


@dataclass(frozen=True, slots=True)
class ReplaceRequest:
    """An amend of an open order: what changes (at least one), and the new order's clientOrderId."""

    client_order_id: str
    price: Decimal | None
    quantity: Decimal | None
    stop_price: Decimal | None


def parse_replace(data: Any, default_client_id: str) -> ReplaceRequest:
    body = _object(data, _REPLACE_FIELDS, set())
    cid = _string(body, "clientOrderId", CLIENT_ORDER_ID, "must be 1-36 characters of A-Z a-z 0-9 _ -",
                  optional=True)
    price, quantity, stop = _amount(body, "price"), _amount(body, "quantity"), _amount(body, "stopPrice")
    if price is None and quantity is None and stop is None:
        raise SchemaError("send the new price, quantity and/or stopPrice", "price")
    return ReplaceRequest(cid or default_client_id, price, quantity, stop)


LIST_CLIENT_ORDER_ID = r"[a-zA-Z0-9_-]{1,32}"
_OCO_FIELDS = {"symbol", "side", "quantity", "price", "takeProfitStopPrice", "stopPrice", "stopLimitPrice",
               "stopLimitTimeInForce", "trailingDelta", "listClientOrderId"}


def parse_oco(data: Any, default_list_id: str) -> OcoRequest:
    body = _object(data, _OCO_FIELDS, {"symbol", "side", "quantity", "price"})
    symbol = _string(body, "symbol", r"[A-Z0-9]{2,20}", "must be an upper-case symbol such as BTCUSDT")
    lcid = _string(body, "listClientOrderId", LIST_CLIENT_ORDER_ID, "must be 1-32 characters of A-Z a-z 0-9 _ -",
                   optional=True)
    quantity, price = _amount(body, "quantity"), _amount(body, "price")
    if quantity is None or price is None:
        raise SchemaError("quantity and price (the take-profit price) are required", "quantity" if quantity is None
                          else "price")
    return OcoRequest(lcid or default_list_id, str(symbol), _enum(body, "side", Side), quantity, price,
                      _amount(body, "stopPrice"), _amount(body, "takeProfitStopPrice"), _amount(body, "stopLimitPrice"),
                      _enum(body, "stopLimitTimeInForce", TimeInForce, optional=True), _bps(body, "trailingDelta"))


def _bps(body: dict[str, Any], key: str) -> int | None:
    """A whole number of basis points, sent as a JSON integer."""
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, _Number) or not re.fullmatch(r"[0-9]{1,6}", value):
        raise SchemaError(f"{key} must be a whole number of basis points, such as 100 (1 %)", key)
    return int(value)


EMAIL = r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,180}\.[A-Za-z]{2,24}"
_API_KEY = r"[A-Za-z0-9]{16,128}"


def parse_register(data: Any) -> tuple[str, str, str | None, str | None]:
    body = _object(data, {"email", "password", "binanceApiKey", "binanceSecretKey"}, {"email", "password"})
    email = str(_string(body, "email", EMAIL, "must be an e-mail address")).lower()
    password = body["password"]
    if not isinstance(password, str) or isinstance(password, _Number):
        raise SchemaError("password must be a string", "password")
    key = _string(body, "binanceApiKey", _API_KEY, "must be 16-128 letters and digits", optional=True)
    secret = _string(body, "binanceSecretKey", _API_KEY, "must be 16-128 letters and digits", optional=True)
    if (key is None) != (secret is None):
        raise SchemaError("binanceApiKey and binanceSecretKey go together", "binanceSecretKey")
    return email, password, key, secret


def parse_exchange_key(data: Any) -> tuple[str, str]:
    body = _object(data, {"apiKey", "secretKey"}, {"apiKey", "secretKey"})
    key = _string(body, "apiKey", _API_KEY, "must be 16-128 letters and digits")
    secret = _string(body, "secretKey", _API_KEY, "must be 16-128 letters and digits")
    assert key is not None and secret is not None
    return key, secret


def parse_login(data: Any) -> tuple[str, str]:
    body = _object(data, {"email", "password"}, {"email", "password"})
    email, password = body["email"], body["password"]
    if not isinstance(email, str) or not isinstance(password, str) or isinstance(password, _Number):
        raise SchemaError("email and password must be strings")
    return email.lower(), password


def parse_int_param(value: str | None, name: str, default: int, lo: int, hi: int) -> int:
    if value is None or value == "":
        return default
    if not re.fullmatch(r"[0-9]{1,12}", value):
        raise SchemaError(f"{name} must be a whole number", name)
    number = int(value)
    if not lo <= number <= hi:
        raise SchemaError(f"{name} must be between {lo} and {hi}", name)
    return number


@dataclass(frozen=True, slots=True)
class ClientFrame:
    """A browser's WebSocket message, type-checked; None means the field was not sent."""

    type: str
    symbols: tuple[str, ...]
    interval: str | None
    cfd_pnl_ms: int | None
    channels: tuple[str, ...] = ()  # extra market channels to subscribe to: "book", "trades"


_FRAME_FIELDS = {"type", "symbols", "interval", "cfdPnlMs", "channels"}
CHANNELS = ("book", "trades")
MAX_CFD_PNL_MS = 60_000


def parse_client_frame(text: str) -> ClientFrame:
    """A WebSocket text frame: strict JSON, an object whose every field has the right JSON type.

    Which symbols and intervals exist is the caller's business; this only guarantees the shapes.
    """
    body = _object(loads(text), _FRAME_FIELDS, {"type"})
    kind = body["type"]
    if not isinstance(kind, str) or isinstance(kind, _Number):
        raise SchemaError("type must be a string such as \"subscribe\"", "type")
    symbols = body.get("symbols", [])
    if not isinstance(symbols, list) or not all(isinstance(s, str) and not isinstance(s, _Number) for s in symbols):
        raise SchemaError("symbols must be a list of strings such as [\"BTCUSDT\"]", "symbols")
    interval = body.get("interval")
    if interval is not None and (not isinstance(interval, str) or isinstance(interval, _Number)):
        raise SchemaError("interval must be a string such as \"1m\"", "interval")
    pnl_ms = body.get("cfdPnlMs")
    if pnl_ms is not None and not (isinstance(pnl_ms, _Number) and re.fullmatch(r"[0-9]{1,5}", pnl_ms)
                                   and int(pnl_ms) <= MAX_CFD_PNL_MS):
        raise SchemaError(f"cfdPnlMs must be a whole number of milliseconds, 0-{MAX_CFD_PNL_MS}", "cfdPnlMs")
    channels = body.get("channels", [])
    if not isinstance(channels, list) or not all(isinstance(c, str) and c in CHANNELS for c in channels):
        raise SchemaError(f"channels must be a list drawn from {', '.join(CHANNELS)}", "channels")
    return ClientFrame(kind, tuple(symbols), interval, None if pnl_ms is None else int(pnl_ms), tuple(channels))


# --- responses ----------------------------------------------------------------------------------

# --- the CFD desk ---------------------------------------------------------------------------------
_CFD_OPEN = {"symbol", "direction", "margin", "leverage", "stopLossPrice", "takeProfitPrice", "clientRequestId"}


def _request_id(body: dict[str, Any]) -> str | None:
    return _string(body, "clientRequestId", CLIENT_ORDER_ID, "must be 1-36 characters of A-Z a-z 0-9 _ -",
                   optional=True)


def _required_amount(body: dict[str, Any], key: str) -> Decimal:
    value = _amount(body, key)
    if value is None:
        raise SchemaError(f"{key} is required", key)
    return value


def parse_cfd_open(data: Any) -> tuple[str | None, dict[str, Any]]:
    body = _object(data, _CFD_OPEN, {"symbol", "direction", "margin", "leverage"})
    symbol = _string(body, "symbol", r"[A-Z0-9]{2,20}", "must be an upper-case symbol such as BTCUSDT")
    direction = body.get("direction")
    if direction not in ("LONG", "SHORT") or isinstance(direction, _Number):
        raise SchemaError("direction must be LONG or SHORT", "direction")
    params = {"symbol": symbol, "direction": direction, "margin": to_str(_required_amount(body, "margin")),
              "leverage": to_str(_required_amount(body, "leverage"))}
    for key in ("stopLossPrice", "takeProfitPrice"):
        if (value := _amount(body, key)) is not None:
            params[key] = to_str(value)
    return _request_id(body), params


def parse_cfd_amend(data: Any) -> dict[str, Any]:
    """Either price may be a new value or null (remove it); at least one must be given."""
    body = _object(data, {"stopLossPrice", "takeProfitPrice"}, set())
    if not body:
        raise SchemaError("send stopLossPrice and/or takeProfitPrice (a price, or null to remove it)")
    params: dict[str, Any] = {}
    for key, clear in (("stopLossPrice", "clearStopLoss"), ("takeProfitPrice", "clearTakeProfit")):
        if key in body and body[key] is None:
            params[clear] = True
        elif (value := _amount(body, key)) is not None:
            params[key] = to_str(value)
    return params


def parse_cfd_transfer(data: Any) -> tuple[str | None, dict[str, Any]]:
    body = _object(data, {"direction", "amount", "clientRequestId"}, {"direction", "amount"})
    direction = body.get("direction")
    if direction not in ("TO_MARGIN", "TO_SPOT") or isinstance(direction, _Number):
        raise SchemaError("direction must be TO_MARGIN (spot wallet to margin) or TO_SPOT", "direction")
    amount = _required_amount(body, "amount")
    if amount != amount.quantize(ASSET_SCALE):
        raise SchemaError("amount has more than 8 decimals", "amount")
    return _request_id(body), {"direction": direction, "amount": to_str(amount)}


# --- the same rules as JSON Schema, for /openapi.json (web/openapi.py) ----------------------------------
# Each body's properties are checked against the field set its parser allows (tests/web/test_openapi.py),
# and the patterns are the parsers' own constants, so the published contract follows the code.

# A positive amount as parse_amount reads it (app.money._PLAIN, greater than zero).
POSITIVE_AMOUNT = r"^([1-9][0-9]{0,19}(\.[0-9]{1,18})?|0\.[0-9]{0,17}[1-9])$"


def _decimal(description: str) -> dict[str, Any]:
    return {"type": "string", "pattern": POSITIVE_AMOUNT, "description": description}


def _text(pattern: str, description: str = "") -> dict[str, Any]:
    return {"type": "string", "pattern": f"^{pattern}$", **({"description": description} if description else {})}


def _body(properties: dict[str, Any], required: set[str], allowed: set[str] | None = None) -> dict[str, Any]:
    if allowed is not None:
        assert set(properties) == allowed, sorted(set(properties) ^ allowed)
    return {"type": "object", "properties": properties, "required": sorted(required), "additionalProperties": False}


# "x-symbol": /openapi.json lists the configured symbols here (web/openapi.py).
_SYMBOL = {**_text(r"[A-Z0-9]{2,20}", "an upper-case symbol such as BTCUSDT"), "x-symbol": True}
_BPS = {"type": "integer", "minimum": 0, "maximum": 999999, "description": "basis points (100 = 1 %)"}
_TIF = {"type": "string", "enum": [t.value for t in TimeInForce]}
_SIDE = {"type": "string", "enum": [s.value for s in Side]}

ORDER_BODY = _body({
    "symbol": _SYMBOL, "side": _SIDE, "type": {"type": "string", "enum": [t.value for t in OrderType]},
    "quantity": _decimal("base-asset quantity"), "quoteOrderQty": _decimal("quote amount to spend (MARKET)"),
    "price": _decimal("limit price"), "timeInForce": _TIF, "stopPrice": _decimal("trigger price"),
    "trailingDelta": _BPS,
    "clientOrderId": _text(CLIENT_ORDER_ID, "your id for the order; the same id again finds it, never places twice"),
}, {"symbol", "side", "type"}, _ORDER_FIELDS) | {"examples": [
    {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001"},
    {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "quantity": "0.001", "price": "1000000",
     "timeInForce": "GTC"}]}
OCO_BODY = _body({
    "symbol": _SYMBOL, "side": _SIDE, "quantity": _decimal("quantity of both legs"),
    "price": _decimal("the take-profit price"), "takeProfitStopPrice": _decimal("take-profit trigger"),
    "stopPrice": _decimal("stop-loss trigger"), "stopLimitPrice": _decimal("stop-loss limit price"),
    "stopLimitTimeInForce": _TIF, "trailingDelta": _BPS, "listClientOrderId": _text(LIST_CLIENT_ORDER_ID),
}, {"symbol", "side", "quantity", "price"}, _OCO_FIELDS) | {"examples": [
    {"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.001", "price": "1000000", "stopPrice": "1000"}]}
REPLACE_BODY = _body({
    "price": _decimal("the new limit price"), "quantity": _decimal("the new quantity (default: the order's)"),
    "stopPrice": _decimal("the new trigger price (stop orders)"),
    "clientOrderId": _text(CLIENT_ORDER_ID, "the new order's id; the same id again finds it, never replaces twice"),
}, set(), _REPLACE_FIELDS) | {"minProperties": 1, "examples": [{"price": "64000.5", "clientOrderId": "amend-1"}]}
REGISTER_BODY = _body({
    "email": {**_text(EMAIL), "format": "email"},
    "password": {"type": "string", "minLength": MIN_PASSWORD_CHARS,
                 "description": f"{MIN_PASSWORD_CHARS}+ characters, at most {MAX_PASSWORD_BYTES} bytes in UTF-8"},
    "binanceApiKey": _text(_API_KEY), "binanceSecretKey": _text(_API_KEY),
}, {"email", "password"})
LOGIN_BODY = _body({"email": {"type": "string"}, "password": {"type": "string"}}, {"email", "password"})
EXCHANGE_KEY_BODY = _body({"apiKey": _text(_API_KEY), "secretKey": _text(_API_KEY)}, {"apiKey", "secretKey"})
_REQUEST_ID = _text(CLIENT_ORDER_ID, "your id for the request: the same id again answers, never repeats it")
CFD_OPEN_BODY = _body({
    "symbol": _SYMBOL, "direction": {"type": "string", "enum": ["LONG", "SHORT"]},
    "margin": _decimal("margin to commit, in USDT"), "leverage": _decimal("leverage, such as 10"),
    "stopLossPrice": _decimal("close when the price reaches it against you"),
    "takeProfitPrice": _decimal("close when the price reaches it in your favour"), "clientRequestId": _REQUEST_ID,
}, {"symbol", "direction", "margin", "leverage"}, _CFD_OPEN) | {"examples": [
    {"symbol": "BTCUSDT", "direction": "LONG", "margin": "100", "leverage": "5"}]}
CFD_AMEND_BODY = {**_body({"stopLossPrice": {"oneOf": [_decimal("a new price"), {"type": "null"}]},
                           "takeProfitPrice": {"oneOf": [_decimal("a new price"), {"type": "null"}]}}, set()),
                  "minProperties": 1, "description": "a price sets it, null removes it; at least one"}
CFD_TRANSFER_BODY = _body({"direction": {"type": "string", "enum": ["TO_MARGIN", "TO_SPOT"]},
                           "amount": {**_decimal("USDT, at most 8 decimals"),
                                      "pattern": r"^([1-9][0-9]{0,19}(\.[0-9]{1,8})?|0\.[0-9]{0,7}[1-9])$"},
                           "clientRequestId": _REQUEST_ID},
                          {"direction", "amount"}) | {"examples": [{"direction": "TO_MARGIN", "amount": "500"}]}
