"""GET /openapi.json (OpenAPI 3.1) and GET /docs (Swagger UI, served from node_modules by web/vendor.py).

The spec is assembled from the declarations the code itself uses: request bodies from app/schemas.py
(next to their parsers), response shapes from app/render.py, app/cfd/render.py and app/history.py
(next to their renderers), problem codes from web/problem_types.py. OPERATIONS lists every route of
Troupe's own REST API; tests/integration/web/test_openapi.py fails when the router and OPERATIONS disagree.
Not in it: the pages, /ws (described in the text), /static, /problems pages, /metrics (an operator's
Prometheus text endpoint, documented in the README), the Binance-compatible /api/v3 (and its
/sapi, /fapi, /dapi stubs) and these two.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from app import schemas
from app.api_keys import MAX_ALLOWLIST, PERMISSIONS
from app.cfd.render import CFD_OPENED_SCHEMA, CFD_POSITION_SCHEMA
from app.history import FILL_HISTORY_SCHEMA, RESET_SCHEMA
from app.render import BALANCE_SCHEMA, DECIMAL, KEY_LAST4_SCHEMA, MS, ORDER_SCHEMA, POSITION_SCHEMA, USER_SCHEMA, obj
from app.version import VERSION
from web.app_keys import SETTINGS
from web.problem_types import PROBLEM_TYPES

routes = web.RouteTableDef()

# Routes of the router that are not Troupe's REST API (see the module's docstring); prefixes end in "/".
NOT_IN_SPEC = ("/", "/login", "/register", "/logout", "/account", "/account/keys", "/account/keys/delete",
               "/auth/resume", "/trade/{symbol}", "/ws", "/metrics", "/problems", "/problems/{code}",
               "/static/vendor/{name}", "/static", "/openapi.json", "/docs", "/api/v3/", "/sapi/",
               "/fapi/", "/dapi/", "/ws/", "/ws-api/", "/stream")

PROBLEM = {"type": "object", "required": ["type", "title", "status", "detail", "code"], "properties": {
    "type": {"type": "string", "description": "/problems/{code}, a page that explains the code"},
    "title": {"type": "string"}, "status": {"type": "integer", "minimum": 400, "maximum": 599},
    "detail": {"type": "string"}, "code": {"type": "string", "enum": sorted(PROBLEM_TYPES)},
    "field": {"type": "string", "description": "the request field at fault, when there is one"}}}

# The statuses any authenticated operation may answer besides its own (auth, limits, size, availability).
COMMON = (400, 401, 403, 413, 415, 429, 503)
PUBLIC = (400, 413, 415, 429, 503)
USER_AUTH = [{"bearerAuth": []}, {"sessionCookie": [], "csrfToken": []}, {"apiKey": []}]
ACCOUNT_AUTH = [{"bearerAuth": []}, {"sessionCookie": [], "csrfToken": []}]  # no API key has scope "account"


@dataclass(frozen=True)
class Op:
    """One operation: its answers by status (a schema, or None for an empty body) and its inputs."""

    summary: str
    ok: dict[int, dict[str, Any] | None]
    auth: list[dict[str, list[str]]] | None = field(default_factory=lambda: USER_AUTH)
    body: dict[str, Any] | None = None
    body_optional: bool = False
    query: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    content: str = "application/json"
    tag: str = ""


def _int(lo: int, hi: int, description: str = "") -> dict[str, Any]:
    """A whole-number query parameter as parse_int_param reads it."""
    return {"type": "integer", "minimum": lo, "maximum": hi, **({"description": description} if description else {})}


_SYMBOL_Q = {"type": "string", "description": "a listed symbol, such as BTCUSDT (GET /api/market/symbols)",
             "x-symbol": True}
_RANGE = {"from": {"type": "string", "description": "start: ms since the epoch or ISO 8601"},
          "to": {"type": "string", "description": "end (exclusive): ms since the epoch or ISO 8601"}}
_TOKENS = obj({"token": {"type": "string"}, "refreshToken": {"type": "string"}, "expiresAt": MS,
               "sessionExpiresAt": MS})
_ANY = {"type": "object", "description": "the desk's answer (what the command did)"}
# The Gateway's answers (actors/gateway.py): an order taken (202) or found again by its clientOrderId (200).
_ORDER_ACK = obj({"orderId": {"type": "integer"}, "clientOrderId": {"type": "string"}, "status": {"type": "string"}})
_OCO_ACK = obj({"orderListId": {"type": "integer"}, "listClientOrderId": {"type": "string"},
                "contingencyType": {"type": "string", "enum": ["OCO"]}, "orders": {"type": "array", "items": obj({
                    "orderId": {"type": "integer"}, "clientOrderId": {"type": "string"},
                    "type": {"type": "string"}, "status": {"type": "string"}})}})
_CANCELED = {**ORDER_SCHEMA, "properties": {**ORDER_SCHEMA["properties"], "cancelRequested": {"type": "boolean"}}}
_REPLACE_ACK = obj({**_ORDER_ACK["properties"], "replacesOrderId": {"type": "integer"}})
_CANCELED_ALL = obj({"symbol": {"type": ["string", "null"]}, "orders": {"type": "array", "items": _CANCELED}})
_CFD_OPENED = obj({"position": CFD_OPENED_SCHEMA, "fee": DECIMAL, "balance": DECIMAL})
_TRANSFERRED = obj({"amount": DECIMAL, "balance": DECIMAL})
_KEY_LISTING = obj({"id": {"type": "integer"}, "label": {"type": "string"},
                    "permissions": {"type": "array", "items": {"type": "string", "enum": list(PERMISSIONS)}},
                    "apiKeyLast4": {"type": "string"}, "ipAllowlist": {"type": "array", "items": {"type": "string"}},
                    "createdAt": MS, "expiresAt": {"type": ["integer", "null"]},
                    "lastUsedAt": {"type": ["integer", "null"]}, "lastUsedIp": {"type": ["string", "null"]}})
_KEY_BODY = {"type": "object", "required": ["label", "permissions"], "additionalProperties": False, "properties": {
    "label": {"type": "string", "minLength": 1, "maxLength": 64},
    "permissions": {"type": "array", "minItems": 1, "uniqueItems": True,
                    "items": {"type": "string", "enum": list(PERMISSIONS)}},
    "ipAllowlist": {"type": "array", "maxItems": MAX_ALLOWLIST, "items": {"type": "string"}},
    "expiresAt": {"type": "integer", "description": "ms since the epoch, in the future"}}}
_STRING_BODY = {"type": "object", "additionalProperties": False}
_CSV = {"type": "string", "description": "CSV with a header row: the JSON rows' keys, cell for cell"}

OPERATIONS: dict[tuple[str, str], Op] = {
    # --- auth
    ("POST", "/auth/register"): Op("Create an account and sign in", {201: obj({**_TOKENS["properties"],
                                   "user": USER_SCHEMA})}, auth=None, body=schemas.REGISTER_BODY, errors=(409,),
                                   tag="auth"),
    ("POST", "/auth/login"): Op("Sign in", {200: obj({**_TOKENS["properties"], "user": USER_SCHEMA})}, auth=None,
                                body=schemas.LOGIN_BODY, errors=(401, 403), tag="auth"),
    ("POST", "/auth/refresh"): Op("New tokens for a refresh token (used up); or the refresh cookie",
                                  {200: obj({"expiresAt": MS, "sessionExpiresAt": MS, "token": {"type": "string"},
                                             "refreshToken": {"type": "string"}}, ["expiresAt", "sessionExpiresAt"])},
                                  auth=None, body={**_STRING_BODY, "properties": {"refreshToken": {
                                      "type": "string", "minLength": 1, "maxLength": 512}}}, body_optional=True,
                                  errors=(401, 403), tag="auth"),
    ("POST", "/auth/logout-all"): Op("End every session (or every other one)", {200: obj({"revoked": {
                                     "type": "integer"}})}, auth=ACCOUNT_AUTH, body={**_STRING_BODY, "properties": {
                                         "keepCurrent": {"type": "boolean"}}}, body_optional=True, tag="auth"),
    ("POST", "/auth/logout"): Op("End this session", {204: None}, auth=ACCOUNT_AUTH, tag="auth"),
    ("GET", "/auth/me"): Op("Who am I", {200: obj({"user": USER_SCHEMA})}, tag="auth"),
    # --- account
    ("GET", "/api/account/exchange-key"): Op("The Binance testnet key on file (last four characters)",
                                             {200: obj({"binanceKey": KEY_LAST4_SCHEMA})}, auth=ACCOUNT_AUTH,
                                             tag="account"),
    ("PUT", "/api/account/exchange-key"): Op("Add or replace the Binance testnet keys",
                                             {200: obj({"binanceKey": KEY_LAST4_SCHEMA})}, auth=ACCOUNT_AUTH,
                                             body=schemas.EXCHANGE_KEY_BODY, tag="account"),
    ("DELETE", "/api/account/exchange-key"): Op("Remove the Binance testnet keys", {204: None}, auth=ACCOUNT_AUTH,
                                                errors=(404,), tag="account"),
    ("GET", "/api/account/sessions"): Op("Your live sessions", {200: obj({"sessions": {"type": "array", "items": obj({
        "id": {"type": "string"}, "kind": {"type": "string"}, "createdAt": MS, "lastSeenAt": MS, "expiresAt": MS,
        "ip": {"type": ["string", "null"]}, "userAgent": {"type": ["string", "null"]},
        "current": {"type": "boolean"}})}})}, auth=ACCOUNT_AUTH, tag="account"),
    ("DELETE", "/api/account/sessions/{id}"): Op("Sign one of your sessions out", {204: None}, auth=ACCOUNT_AUTH,
                                                 errors=(404,), tag="account"),
    ("POST", "/api/account/password"): Op("Change the password (every other session ends)",
                                          {200: obj({"revokedSessions": {"type": "integer"}})}, auth=ACCOUNT_AUTH,
                                          body={"type": "object", "additionalProperties": False,
                                                "required": ["currentPassword", "newPassword"], "properties": {
                                                    "currentPassword": {"type": "string"},
                                                    "newPassword": schemas.REGISTER_BODY["properties"][
                                                        "password"]}}, tag="account"),
    ("GET", "/api/account/activity"): Op("Your security activity, newest first", {200: obj({
        "events": {"type": "array", "items": obj({"id": {"type": "integer"}, "kind": {"type": "string"}, "time": MS,
                                                  "ip": {"type": ["string", "null"]},
                                                  "userAgent": {"type": ["string", "null"]},
                                                  "newAddress": {"type": "boolean"}, "detail": {"type": "object"}})},
        "nextCursor": {"type": ["string", "null"]}})}, auth=ACCOUNT_AUTH,
        query={"limit": _int(1, 100), "cursor": _int(1, 10**15, "the nextCursor of the page before")}, tag="account"),
    ("POST", "/api/account/api-keys"): Op("Create an API key for a bot (the secret is shown once)",
                                          {201: obj({**_KEY_LISTING["properties"], "apiKey": {"type": "string"},
                                                     "secretKey": {"type": "string"}})}, auth=ACCOUNT_AUTH,
                                          body=_KEY_BODY, errors=(409,), tag="account"),
    ("GET", "/api/account/api-keys"): Op("Your API keys", {200: obj({"apiKeys": {"type": "array",
                                                                                 "items": _KEY_LISTING}})},
                                         auth=ACCOUNT_AUTH, tag="account"),
    ("DELETE", "/api/account/api-keys/{key_id}"): Op("Revoke an API key", {204: None}, auth=ACCOUNT_AUTH,
                                                     errors=(404,), tag="account"),
    ("GET", "/api/account/equity"): Op("The equity curve, the resets, and the equity now", {200: obj({
        "interval": {"type": "string"}, "from": MS, "to": MS, "points": {"type": "array"},
        "resets": {"type": "array"}, "now": {"type": "object"}}, ["interval", "from", "to", "now"])},
        query={**_RANGE, "interval": {"type": "string"}}, tag="account"),
    ("GET", "/api/account/pnl/daily"): Op("PnL per UTC day", {200: obj({"days": {"type": "array", "items": obj({
        "date": {"type": "string"}, "open": DECIMAL, "close": DECIMAL, "flows": DECIMAL}, ["date"])}}, ["days"])},
        query={"from": {"type": "string", "description": "YYYY-MM-DD"},
               "to": {"type": "string", "description": "YYYY-MM-DD"}}, tag="account"),
    ("POST", "/api/account/reset"): Op("Start over with a fresh starting wallet", {200: RESET_SCHEMA,
                                       201: RESET_SCHEMA, 202: RESET_SCHEMA}, auth=ACCOUNT_AUTH,
                                       body={"type": "object", "additionalProperties": False,
                                             "required": ["password"], "properties": {
                                                 "password": {"type": "string", "minLength": 1},
                                                 "clientRequestId": schemas.CFD_TRANSFER_BODY["properties"][
                                                     "clientRequestId"]}}, errors=(409,), tag="account"),
    # --- trading
    ("POST", "/api/trading/orders"): Op("Place an order", {200: _ORDER_ACK, 202: _ORDER_ACK},
                                        body=schemas.ORDER_BODY, errors=(404, 409, 422, 504), tag="trading"),
    ("POST", "/api/trading/orderList/oco"): Op("Place an OCO list", {200: _OCO_ACK, 202: _OCO_ACK},
                                               body=schemas.OCO_BODY, errors=(404, 409, 422, 504), tag="trading"),
    ("DELETE", "/api/trading/orders/{order_id}"): Op("Cancel an order", {200: _CANCELED, 202: _CANCELED},
                                                     errors=(404, 409, 422, 504), tag="trading"),
    ("POST", "/api/trading/orders/{order_id}/replace"): Op(
        "Amend an open order: cancel it and place the new one in one step (none if it filled meanwhile)",
        {200: _REPLACE_ACK, 202: _REPLACE_ACK}, body=schemas.REPLACE_BODY, errors=(404, 409, 422, 504),
        tag="trading"),
    ("DELETE", "/api/trading/orders"): Op("Cancel every open order, of one symbol or all",
                                          {200: _CANCELED_ALL, 202: _CANCELED_ALL}, query={"symbol": _SYMBOL_Q},
                                          errors=(504,), tag="trading"),
    ("GET", "/api/trading/orders"): Op("Your orders, newest first", {200: obj({
        "orders": {"type": "array", "items": ORDER_SCHEMA}, "nextCursor": {"type": ["string", "integer", "null"]}},
        ["orders"])}, query={"limit": _int(1, 500), "cursor": _int(0, 10**18), "status": {"type": "string"},
                             "symbol": _SYMBOL_Q, "side": {"type": "string", "enum": ["BUY", "SELL"]}, **_RANGE},
        tag="trading"),
    ("GET", "/api/trading/orders/{order_id}"): Op("One order", {200: ORDER_SCHEMA}, errors=(404,), tag="trading"),
    ("GET", "/api/trading/positions"): Op("Spot positions with marks", {200: obj({"positions": {
        "type": "array", "items": POSITION_SCHEMA}})}, tag="trading"),
    ("GET", "/api/trading/balances"): Op("Balances", {200: obj({"balances": {"type": "array",
                                                                            "items": BALANCE_SCHEMA}})}, tag="trading"),
    ("GET", "/api/trading/fills"): Op("Your fills, newest first", {200: obj({
        "fills": {"type": "array", "items": FILL_HISTORY_SCHEMA},
        "nextCursor": {"type": ["string", "integer", "null"]}},
        ["fills"])}, query={"limit": _int(1, 1000), "cursor": _int(0, 10**12), "symbol": _SYMBOL_Q, **_RANGE},
        tag="trading"),
    ("GET", "/api/trading/fills.csv"): Op("Fills as CSV", {200: _CSV}, query={"symbol": _SYMBOL_Q, **_RANGE},
                                          content="text/csv", tag="trading"),
    ("GET", "/api/trading/orders.csv"): Op("Orders as CSV", {200: _CSV}, query={"symbol": _SYMBOL_Q, **_RANGE},
                                           content="text/csv", tag="trading"),
    ("POST", "/api/ws-ticket"): Op("A one-use ticket for GET /ws?ticket= (30 s)", {200: obj({
        "ticket": {"type": "string"}, "expiresIn": {"type": "integer"}})}, tag="trading"),
    # --- CFD
    ("POST", "/api/cfd/transfer"): Op("Move USDT between the spot wallet and the CFD margin account",
                                      {200: _TRANSFERRED}, body=schemas.CFD_TRANSFER_BODY,
                                      errors=(404, 409, 422, 504), tag="cfd"),
    ("POST", "/api/cfd/positions"): Op("Open a CFD position", {200: _ANY, 201: _CFD_OPENED},
                                       body=schemas.CFD_OPEN_BODY, errors=(404, 409, 422, 504), tag="cfd"),
    ("GET", "/api/cfd/positions"): Op("CFD positions", {200: obj({"positions": {"type": "array",
                                                                                "items": CFD_POSITION_SCHEMA}})},
                                      query={"status": {"type": "string", "enum": ["open", "closed"]}}, tag="cfd"),
    ("GET", "/api/cfd/positions/{position_id}"): Op("One CFD position", {200: CFD_POSITION_SCHEMA},
                                                    errors=(404,), tag="cfd"),
    ("PATCH", "/api/cfd/positions/{position_id}"): Op("Set or remove stop-loss / take-profit",
                                                      {200: _ANY, 202: _ANY}, body=schemas.CFD_AMEND_BODY,
                                                      errors=(404, 409, 422, 504), tag="cfd"),
    ("DELETE", "/api/cfd/positions/{position_id}"): Op("Close a CFD position at market", {200: _ANY, 202: _ANY},
                                                       errors=(404, 409, 422, 504), tag="cfd"),
    ("GET", "/api/cfd/account"): Op("The CFD margin account", {200: {"type": "object"}}, tag="cfd"),
    ("GET", "/api/cfd/history.csv"): Op("CFD positions as CSV", {200: _CSV}, query={"symbol": _SYMBOL_Q, **_RANGE},
                                        content="text/csv", tag="cfd"),
    # --- market data (public)
    ("GET", "/api/market/symbols"): Op("Symbols and their filters", {200: obj({"symbols": {"type": "array",
                                       "items": obj({"symbol": {"type": "string"}, "baseAsset": {"type": "string"},
                                                     "quoteAsset": {"type": "string"}, "status": {"type": "string"},
                                                     "filters": {"type": "array"}}, ["symbol"])}})},
                                       auth=None, tag="market"),
    ("GET", "/api/market/ticker"): Op("The latest price (one symbol, or all)", {200: {"type": "object"}}, auth=None,
                                      query={"symbol": _SYMBOL_Q}, tag="market"),
    ("GET", "/api/market/candles"): Op("Candles, oldest first", {200: obj({
        "symbol": {"type": "string"}, "interval": {"type": "string"}, "candles": {"type": "array", "items": obj({
            "t": MS, "o": DECIMAL, "h": DECIMAL, "l": DECIMAL, "c": DECIMAL, "v": DECIMAL})}})}, auth=None,
        query={"symbol": {**_SYMBOL_Q, "required": True}, "interval": {"type": "string"}, "limit": _int(1, 1000)},
        tag="market"),
    ("GET", "/api/market/depth"): Op("The order book, best first", {200: obj({
        "symbol": {"type": "string"}, "bids": {"type": "array"}, "asks": {"type": "array"}}, ["symbol"])}, auth=None,
        query={"symbol": {**_SYMBOL_Q, "required": True}, "limit": _int(1, 1000)}, tag="market"),
    ("GET", "/api/market/trades"): Op("The public tape, oldest first", {200: obj({
        "symbol": {"type": "string"}, "trades": {"type": "array"}})}, auth=None,
        query={"symbol": {**_SYMBOL_Q, "required": True}, "limit": _int(1, 1000)}, tag="market"),
    # --- operations
    ("GET", "/healthz"): Op("The process answers", {200: obj({"status": {"type": "string"}})}, auth=None,
                            tag="health"),
    ("GET", "/readyz"): Op("Database, Redis and every actor are up (503 when not)", {200: obj({
        "status": {"type": "string"}, "checks": {"type": "object"}, "actors": {"type": "object"},
        "failure": {"type": ["string", "null"]}})}, auth=None, tag="health"),
}

SIGNATURE = """Bots sign requests with an API key (POST /api/account/api-keys), as Binance does:
send the key in the `X-MBX-APIKEY` header, and in the query string `timestamp` (ms since the epoch,
within `recvWindow` ms of the server's clock, default 5000) and last `signature`: the hex
HMAC-SHA256, under the secret key, of the query string before `&signature=` followed by the raw
request body. A key holds permissions `read`, `trade` and/or `cfd`; it never manages the account."""

DESCRIPTION = """Troupe's own REST API. Amounts are decimal strings, never JSON numbers. Errors are RFC 9457
problem documents (`application/problem+json`); `code` is one of the codes listed at /problems.

Live data comes over the WebSocket `GET /ws?ticket=...` (a ticket from POST /api/ws-ticket): prices,
books, trades, candles and your own order, balance, position and CFD events as JSON frames.
Not described here: the Binance-compatible `/api/v3` and its market streams (`/ws/<stream>`, `/stream`),
the pages, and `/metrics` (Prometheus text,
optionally protected by METRICS_TOKEN; see the README)."""


def _parameters(path: str, op: Op) -> list[dict[str, Any]]:
    params = [{"name": seg[1:-1], "in": "path", "required": True, "schema": {"type": "string", "pattern":
               "^[A-Za-z0-9_-]{1,40}$"}} for seg in path.split("/") if seg.startswith("{")]
    for name, schema in op.query.items():
        required = bool(schema.get("required"))
        clean = {k: v for k, v in schema.items() if k != "required"}
        params.append({"name": name, "in": "query", "required": required, "schema": clean})
    return params


def _responses(op: Op) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, schema in op.ok.items():
        out[str(status)] = {"description": "success"} if schema is None else {
            "description": "success", "content": {op.content: {"schema": schema}}}
    problem = {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for status in sorted(set((COMMON if op.auth else PUBLIC) + op.errors)):
        out[str(status)] = {"description": "a problem document", **problem}
    return out


def _with_symbols(node: Any, symbols: tuple[str, ...]) -> Any:
    """A copy of `node` whose symbol schemas (marked "x-symbol") list the configured symbols."""
    if isinstance(node, dict):
        out = {k: _with_symbols(v, symbols) for k, v in node.items() if k != "x-symbol"}
        if node.get("x-symbol") and symbols:
            out = {k: v for k, v in out.items() if k != "pattern"} | {"enum": list(symbols)}
        return out
    if isinstance(node, list):
        return [_with_symbols(v, symbols) for v in node]
    return node


def build_spec(symbols: tuple[str, ...] = ()) -> dict[str, Any]:
    """The OpenAPI 3.1 document for OPERATIONS; `symbols`: the node's configured symbols (an enum)."""
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), op in OPERATIONS.items():
        entry: dict[str, Any] = {"summary": op.summary, "operationId": f"{method.lower()} {path}",
                                 "tags": [op.tag] if op.tag else [], "parameters": _parameters(path, op),
                                 "responses": _responses(op), "security": op.auth or []}
        if op.body is not None:
            entry["requestBody"] = {"required": not op.body_optional,
                                    "content": {"application/json": {"schema": op.body}}}
        paths.setdefault(path, {})[method.lower()] = entry
    return _with_symbols({
        "openapi": "3.1.0",
        "info": {"title": "Troupe", "version": VERSION, "description": DESCRIPTION},
        "paths": paths,
        "components": {
            "schemas": {"Problem": PROBLEM},
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                               "description": "the `token` of POST /auth/login or /auth/register"},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "troupe_session",
                                  "description": "the browser's session cookie; writes also need csrfToken"},
                "csrfToken": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token",
                              "description": "equal to the troupe_csrf cookie (double submit)"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-MBX-APIKEY", "description": SIGNATURE},
            },
        },
    }, symbols)


@functools.cache
def spec_bytes(symbols: tuple[str, ...]) -> bytes:
    return json.dumps(build_spec(symbols), separators=(",", ":")).encode()


@routes.get("/openapi.json")
async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=spec_bytes(request.app[SETTINGS].symbols), content_type="application/json")


@routes.get("/docs")
async def docs(request: web.Request) -> web.Response:
    return aiohttp_jinja2.render_template("docs.html", request, {})
