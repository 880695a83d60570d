"""What each problem `type` the API returns means: one table, served as the pages its URLs name.

Every problem document's `type` is `/problems/<code in lower case>` (web/problems.py `problem_body`);
RFC 9457 asks that such a URL, when dereferenced, explain the problem to a human. A code the API
can return must have an entry here (tests/integration/web/test_problem_types.py scans the source for them).
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp_jinja2
from aiohttp import web

routes = web.RouteTableDef()


@dataclass(frozen=True, slots=True)
class ProblemType:
    title: str
    meaning: str
    remedy: str


PROBLEM_TYPES: dict[str, ProblemType] = {
    # --- the request itself
    "BAD_REQUEST": ProblemType(
        "The request is malformed",
        "The body, a query parameter or a field is not what the endpoint accepts: not strict JSON, an "
        "unknown or repeated field, a wrong JSON type, a number that is not a plain decimal string, or "
        "text that is not valid Unicode. 'field' names the culprit when there is one.",
        "Read 'detail', correct the request and send it again."),
    "INVALID_PARAMS": ProblemType(
        "The order's fields do not go together",
        "Each field is well-formed, but the combination is not an order Troupe knows, such as a price on "
        "a MARKET order or a stop order without stopPrice or trailingDelta.",
        "Send the fields the order type needs (see the README's order types)."),
    "UNPROCESSABLE": ProblemType(
        "The request cannot be carried out",
        "The request is well-formed but breaks a rule of the service.",
        "Read 'detail'; the same request will fail again."),
    "UNSUPPORTED_MEDIA_TYPE": ProblemType(
        "The body is not application/json",
        "Endpoints that take a body accept only 'Content-Type: application/json'.",
        "Send the body as JSON with that content type."),
    "PAYLOAD_TOO_LARGE": ProblemType(
        "The body is too large",
        "Request bodies are limited to 64 KiB.",
        "Send a smaller body."),
    "URI_TOO_LONG": ProblemType(
        "The request line is too long",
        "The method, path and query together exceed the server's limit (about 8 KiB).",
        "Shorten the query string."),
    "HEADER_TOO_LARGE": ProblemType(
        "A request header is too large",
        "One header field is longer than 8,190 bytes, so the request was refused before it was read.",
        "Send smaller headers; for a browser, clear this site's cookies."),
    "METHOD_NOT_ALLOWED": ProblemType(
        "This method is not allowed here",
        "The path exists but does not accept this HTTP method; the 'Allow' header lists those it does.",
        "Use one of the allowed methods."),
    "NOT_FOUND": ProblemType(
        "Nothing is here",
        "No endpoint or object answers to this path, or it belongs to someone else (which looks the same).",
        "Check the path and the id."),
    # --- who is asking
    "UNAUTHORIZED": ProblemType(
        "Sign in first",
        "The request carries no token, or its token is invalid or expired, or its session has ended "
        "(signed out, or the account disabled).",
        "Sign in again (POST /auth/login) and send 'Authorization: Bearer <token>'."),
    "INVALID_CREDENTIALS": ProblemType(
        "Wrong e-mail or password",
        "No account has this e-mail and password. Which of the two is wrong is not said, on purpose.",
        "Check both and try again; after repeated failures, wait before retrying."),
    "WRONG_PASSWORD": ProblemType(
        "The current password is not right",
        "Changing the password, or resetting the account, needs the current one, and what was sent is not "
        "it; nothing was done. Each wrong try counts against the same limits as a wrong password at sign-in.",
        "Type the current password again; after repeated failures, wait before retrying."),
    "ACCOUNT_DISABLED": ProblemType(
        "This account is disabled",
        "The e-mail and password are right, but an operator has disabled the account: every session of it "
        "has ended and no new one can start.",
        "Ask the operator of this Troupe to enable it again."),
    "EMAIL_TAKEN": ProblemType(
        "This e-mail is already registered",
        "An account with this e-mail address exists.",
        "Sign in instead, or register with another address."),
    "FORBIDDEN": ProblemType(
        "Not allowed from here",
        "The request came from a page of another site (for example a WebSocket from a foreign Origin).",
        "Use Troupe's own pages, or an API client with a bearer token."),
    "CSRF": ProblemType(
        "Missing or wrong CSRF token",
        "A state-changing request authenticated by the session cookie must carry the page's CSRF token "
        "(X-CSRF-Token) and come from this site.",
        "Reload the page and try again."),
    "TOO_MANY_REQUESTS": ProblemType(
        "Too many requests",
        "A rate limit was reached; 'Retry-After' says how many seconds to wait.",
        "Wait that long, then retry."),
    # --- API keys (signed requests, issue 11)
    "INVALID_SIGNATURE": ProblemType(
        "The request's signature does not match",
        "A request with X-MBX-APIKEY must end its query string with signature=<hex HMAC-SHA256>, computed "
        "with the key's secret over the query string before '&signature=' followed by the raw body, as "
        "Binance's signed endpoints do.",
        "Sign exactly the bytes you send (the query string as encoded, then the body) with the secret key."),
    "OUTSIDE_RECV_WINDOW": ProblemType(
        "The signed request is too old or from the future",
        "'timestamp' (epoch ms) must be at most one second ahead of the server's clock and no older than "
        "'recvWindow' (default 5000 ms, at most 60000).",
        "Synchronise the client's clock, sign the request just before sending it, or widen recvWindow."),
    "ADDRESS_NOT_ALLOWED": ProblemType(
        "This API key is not allowed from this address",
        "The key has an IP allow-list and the request came from an address outside it.",
        "Send from an allowed address, or create a key whose allow-list includes this one."),
    "MISSING_PERMISSION": ProblemType(
        "The API key lacks a permission",
        "The request is signed correctly, but the key does not hold the permission it needs ('detail' names "
        "it): reading needs 'read', placing or cancelling orders 'trade', the CFD desk 'cfd'. Managing keys, "
        "sessions or the password ('account') is never allowed to a key.",
        "Create a key with the permission named, or sign in with the password for account management."),
    "TOO_MANY_API_KEYS": ProblemType(
        "Too many API keys",
        "A user may hold at most API_KEYS_PER_USER live keys (20 by default).",
        "Revoke a key you no longer use (DELETE /api/account/api-keys/{id}), then create the new one."),
    # --- orders
    "FILTER_FAILURE": ProblemType(
        "The order breaks a symbol filter",
        "A price, quantity or notional value is off the symbol's grid or outside its limits "
        "(PRICE_FILTER, LOT_SIZE, NOTIONAL, TRAILING_DELTA); 'detail' names the filter and the allowed value. "
        "Nothing is rounded for you.",
        "Read the symbol's filters (GET /api/market/symbols) and send a value that fits them."),
    "UNKNOWN_SYMBOL": ProblemType(
        "This symbol is not traded here",
        "The symbol is not one of the markets this Troupe serves.",
        "Pick one from GET /api/market/symbols."),
    "UNKNOWN_ORDER": ProblemType(
        "No such order",
        "No order of yours has this id.",
        "Check the id; another user's orders look exactly like missing ones."),
    "ORDER_NOT_CANCELABLE": ProblemType(
        "The order can no longer be canceled",
        "It has already ended (filled, canceled, rejected or expired).",
        "Nothing to do: fetch the order to see how it ended."),
    "DUPLICATE_CLIENT_ORDER_ID": ProblemType(
        "This clientOrderId was used for another order",
        "A clientOrderId names one order; it was already used with different fields.",
        "Use a new clientOrderId, or resend exactly the same fields to get the existing order."),
    "TOO_MANY_ORDERS": ProblemType(
        "Too many open orders",
        "The account has as many open orders as it may (MAX_OPEN_ORDERS).",
        "Cancel some, or wait for them to fill."),
    "STALE_PRICES": ProblemType(
        "No live market data",
        "The live feed has been silent for this symbol, so market orders wait rather than execute blind.",
        "Retry once prices move again (the terminal shows the market as stale meanwhile)."),
    # --- the CFD desk
    "INVALID": ProblemType(
        "The CFD request is not valid",
        "A margin, leverage, stop-loss or take-profit breaks the desk's rules; 'detail' says which.",
        "Correct the field named in 'field'."),
    "NO_FUNDS": ProblemType(
        "Not enough free funds",
        "The margin account (or the spot wallet, for a transfer) does not hold enough free USDT.",
        "Transfer more USDT to the margin account, or ask for less."),
    "NOT_OPEN": ProblemType(
        "The position is not open",
        "It has already been closed, stopped out, taken profit on or liquidated.",
        "Nothing to do: fetch the position to see how it ended."),
    "NO_PRICE": ProblemType(
        "No price yet",
        "The desk has not seen a price for this symbol yet.",
        "Retry in a moment."),
    "UNKNOWN_POSITION": ProblemType(
        "No such position",
        "No CFD position of yours has this id.",
        "Check the id; another user's positions look exactly like missing ones."),
    "CFD_REJECTED": ProblemType(
        "The desk refused the request",
        "The CFD desk could not carry out the command; 'detail' says why.",
        "Read 'detail' and correct the request."),
    "CFD_UNAVAILABLE": ProblemType(
        "The CFD desk is not available",
        "The desk runs only with EXCHANGE=simulator.",
        "Trade spot, or use a Troupe that runs the simulator."),
    "DUPLICATE_CLIENT_REQUEST_ID": ProblemType(
        "This clientRequestId was used for another request",
        "A desk request with this clientRequestId took effect before with a different body; a repeat must "
        "be the same request.",
        "Send a new clientRequestId for a new request, or repeat the first one exactly."),
    "RESET_UNAVAILABLE": ProblemType(
        "Accounts cannot be reset here",
        "A reset gives the starting wallet afresh, which only the simulated exchange can do; this Troupe "
        "trades on Binance (EXCHANGE=binance).",
        "Manage the exchange account at the exchange."),
    # --- the service
    "CONFLICT": ProblemType(
        "The request conflicts with the current state",
        "What you asked for contradicts something that already exists.",
        "Read 'detail'; fetch the current state before retrying."),
    "UNAVAILABLE": ProblemType(
        "Briefly unavailable",
        "A part of Troupe (the database, Redis, an actor) did not answer in time. For orders, nothing was "
        "placed twice.",
        "Retry after 'Retry-After' seconds; for orders, with the same clientOrderId."),
    "TIMEOUT": ProblemType(
        "Timed out",
        "The request took too long to complete.",
        "Retry; with the same clientOrderId or clientRequestId so nothing happens twice."),
    "INTERNAL_ERROR": ProblemType(
        "Internal error",
        "Something went wrong inside Troupe. 'detail' carries an incident id that is in the server's log.",
        "Retry later; report the incident id if it persists."),
    "ERROR": ProblemType(
        "Error",
        "An HTTP error without a more specific type; 'status' and 'detail' say what happened.",
        "Read 'detail'."),
}


@routes.get("/problems")
async def problem_index(request: web.Request) -> web.Response:
    return aiohttp_jinja2.render_template("problem_type.html", request, {"types": PROBLEM_TYPES})


@routes.get("/problems/{code}")
async def problem_page(request: web.Request) -> web.Response:
    code = request.match_info["code"].upper()
    kind = PROBLEM_TYPES.get(code)
    if kind is None:
        return aiohttp_jinja2.render_template("problem_type.html", request, {"unknown": code[:40]}, status=404)
    return aiohttp_jinja2.render_template("problem_type.html", request, {"code": code, "kind": kind})
