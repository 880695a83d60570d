"""The account's history and its fresh start: fills, CSV exports, the equity curve, daily PnL, and
`POST /api/account/reset`.

Reads come from the database (`app/queries.py`), exports are streamed page by page with the same
JSON rows the API lists rendered as CSV (`app/history.py`). A reset is a command to the user's Executor
shard, its accounts' single writer, sent only after the password was checked again (a wrong one counts
against the login limits), and answered once the shard committed it.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from aiohttp import web

from app.clock import now_ms
from app.credentials import WrongCredentials, check_password
from app.history import CFD, DAY_MS, FILLS, INTERVALS, ORDERS, Export, auto_interval, day_start
from app.money import to_str
from app.persistence.users import user_by_id
from app.queries import current_valuation, equity_curve, export_page, list_fills, pnl_daily
from app.reset import reset_request
from app.schemas import CLIENT_ORDER_ID, parse_int_param
from web.actor_calls import ask_actor
from web.app_keys import CPU_POOL, MARKET_DATA, REPLIES, RUNTIME, SETTINGS
from web.auth import require_user
from web.login_limits import before_login, login_failed, login_succeeded
from web.plumbing import in_db, read_json
from web.problems import Problem
from web.ratelimit import order_rate_limit

routes = web.RouteTableDef()

EXPORT_PAGE = 1000  # rows read per database round trip while an export streams
MAX_SPAN_MS = 10 * 366 * DAY_MS
PNL_DAYS = 30  # the daily PnL's default range
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- query parameters ----------------------------------------------------------------------------------
def parse_time(value: str | None, name: str) -> int | None:
    """A time as epoch milliseconds, or as ISO 8601 (`2026-12-01T10:00:00Z`; no offset means UTC)."""
    if value is None or value == "":
        return None
    if re.fullmatch(r"[0-9]{1,15}", value):
        return int(value)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise Problem(400, f"{name} must be epoch milliseconds or an ISO 8601 time such as 2026-12-01T10:00:00Z",
                      code="BAD_REQUEST", field=name) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return (parsed - _EPOCH) // timedelta(milliseconds=1)  # exact: no float on the way


def time_range(request: web.Request) -> tuple[int | None, int | None]:
    start, end = parse_time(request.query.get("from"), "from"), parse_time(request.query.get("to"), "to")
    if start is not None and end is not None and start >= end:
        raise Problem(400, "from must be before to", code="BAD_REQUEST", field="from")
    return start, end


def _symbol(request: web.Request) -> str | None:
    symbol = request.query.get("symbol") or None
    specs = request.app[RUNTIME].specs
    if symbol is not None and symbol not in specs:
        raise Problem(400, f"unknown symbol; choose one of {', '.join(specs)}", code="BAD_REQUEST", field="symbol")
    return symbol


# --- fills and exports -----------------------------------------------------------------------------------
@routes.get("/api/trading/fills")
async def fills(request: web.Request) -> web.Response:
    claims = await require_user(request, scope="read")
    limit = parse_int_param(request.query.get("limit"), "limit", 100, 1, 1000)
    before = parse_int_param(request.query.get("cursor"), "cursor", 0, 0, 10**12)
    symbol, (start, end) = _symbol(request), time_range(request)
    page = await in_db(request, list_fills, claims.user_id, symbol, start, end, limit, before or None)
    return web.json_response(page)


async def _export(request: web.Request, export: Export) -> web.StreamResponse:
    """Every row the filters select, newest first, as CSV: the API's JSON rows, cell for cell."""
    claims = await require_user(request, scope="read")
    symbol, (start, end) = _symbol(request), time_range(request)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    response = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="troupe-{export.name}-{stamp}.csv"'})
    await response.prepare(request)
    await response.write(_csv([export.header()]))
    cursor: int | None = None
    while True:
        items, cursor = await in_db(request, export_page, export.name, claims.user_id, symbol, start, end,
                                    EXPORT_PAGE, cursor)
        if items:
            await response.write(_csv(export.row(item) for item in items))
        if cursor is None:
            break
    await response.write_eof()
    return response


def _csv(rows: Any) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode()


@routes.get("/api/trading/fills.csv")
async def fills_csv(request: web.Request) -> web.StreamResponse:
    return await _export(request, FILLS)


@routes.get("/api/trading/orders.csv")
async def orders_csv(request: web.Request) -> web.StreamResponse:
    return await _export(request, ORDERS)


@routes.get("/api/cfd/history.csv")
async def cfd_csv(request: web.Request) -> web.StreamResponse:
    return await _export(request, CFD)


# --- the equity curve and daily PnL ------------------------------------------------------------------
@routes.get("/api/account/equity")
async def equity(request: web.Request) -> web.Response:
    """The recorded curve over [from, to) (default: the last day; `from=0`: all of it), at `interval` (default:
    the finest that keeps it at 1000 points or fewer), the resets, and the equity now at the latest prices."""
    claims = await require_user(request, scope="read")
    start, end = time_range(request)
    now = now_ms()
    end = end if end is not None else now + 1
    start = start if start is not None else end - DAY_MS
    interval = request.query.get("interval") or auto_interval(end - start)
    if interval not in INTERVALS:
        raise Problem(400, f"interval must be one of {', '.join(INTERVALS)}", code="BAD_REQUEST", field="interval")
    market = request.app[MARKET_DATA]
    quotes = {s: (t.bid, t.ask) for s, t in (await market.latest_ticks()).items()}
    marks = await market.marks()
    curve = await in_db(request, equity_curve, claims.user_id, start, end, interval)
    value = await in_db(request, current_valuation, claims.user_id, marks, quotes, request.app[SETTINGS].exchange)
    curve["now"] = {"time": now, "equity": to_str(value.total), "spot": to_str(value.spot), "cfd": to_str(value.cfd),
                    "unpriced": list(value.unpriced),
                    "assets": [{"asset": a, "value": to_str(v)} for a, v in value.assets]}
    return web.json_response(curve)


@routes.get("/api/account/pnl/daily")
async def pnl(request: web.Request) -> web.Response:
    """PnL per UTC day, `from`/`to` as YYYY-MM-DD (inclusive; default: the last 30 days)."""
    claims = await require_user(request, scope="read")
    today = now_ms() // DAY_MS * DAY_MS
    start = _day(request.query.get("from"), "from", today - (PNL_DAYS - 1) * DAY_MS)
    end = _day(request.query.get("to"), "to", today) + DAY_MS
    if start >= end or end - start > MAX_SPAN_MS:
        raise Problem(400, "from must be a day at or before to, at most ten years earlier", code="BAD_REQUEST",
                      field="from")
    return web.json_response(await in_db(request, pnl_daily, claims.user_id, start, end))


def _day(value: str | None, name: str, default: int) -> int:
    if not value:
        return default
    try:
        return day_start(value)
    except ValueError:
        raise Problem(400, f"{name} must be a day such as 2026-12-01", code="BAD_REQUEST", field=name) from None


# --- reset -----------------------------------------------------------------------------------------------
def _reset_body(body: Any) -> tuple[str, str | None]:
    if not isinstance(body, dict):
        raise Problem(400, "the body must be a JSON object", code="BAD_REQUEST")
    unknown = sorted(set(body) - {"password", "clientRequestId"})
    if unknown:
        raise Problem(400, f"unknown field {unknown[0]!r}; allowed: clientRequestId, password", code="BAD_REQUEST",
                      field=unknown[0])
    password, request_id = body.get("password"), body.get("clientRequestId")
    if not isinstance(password, str) or not password:
        raise Problem(400, "password is required: a reset asks for it again", code="BAD_REQUEST", field="password")
    if request_id is not None and (not isinstance(request_id, str) or not re.fullmatch(CLIENT_ORDER_ID, request_id)):
        raise Problem(400, "clientRequestId must be 1-36 characters of A-Z a-z 0-9 _ -", code="BAD_REQUEST",
                      field="clientRequestId")
    return password, request_id


@routes.post("/api/account/reset")
async def reset(request: web.Request) -> web.Response:
    """Start over: open orders canceled, CFD positions closed at market, the starting wallet given afresh.
    The same `clientRequestId` again answers with the reset it made (`repeated`), never a second one."""
    claims = await require_user(request, scope="account")
    password, request_id = _reset_body(await read_json(request))
    user = await in_db(request, user_by_id, claims.user_id)
    if user is None:
        raise Problem(401, "this session has ended; sign in again", code="UNAUTHORIZED")
    await _check_password(request, user.email, password)
    await order_rate_limit(request, claims.user_id)
    settings, names = request.app[SETTINGS], request.app[RUNTIME].names
    request_id = request_id or secrets.token_urlsafe(18)
    stream, msg = reset_request(names, settings.executor_shards, claims.user_id, request_id,
                                names.reply(settings.node_name), request.app[REPLIES].new_id())
    return await ask_actor(request, stream, msg, "executor",
                           f"; retry with clientRequestId {request_id} to find out without resetting twice")


async def _check_password(request: web.Request, email: str, password: str) -> None:
    """The password again, under the login limits: a wrong one counts as a failed login (403, not 401:
    the session itself is fine)."""
    await before_login(request, email)
    try:
        await check_password(email, password, rounds=request.app[SETTINGS].bcrypt_rounds,
                             cpu_pool=request.app[CPU_POOL], in_db=partial(in_db, request))
    except WrongCredentials:
        await login_failed(request, email)
        raise Problem(403, "wrong password; nothing was reset", code="WRONG_PASSWORD", field="password") from None
    await login_succeeded(request, email)
