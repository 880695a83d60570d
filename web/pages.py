"""Server-rendered pages: register, login, logout, the trading terminal and the account page.

Pages authenticate with the session cookie; every form carries the CSRF token. A page never puts
server data into a script: the terminal reads its configuration from data- attributes and renders
everything it receives with textContent.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import aiohttp_jinja2
from aiohttp import web

from app.accounts import key_last4, remove_exchange_key, replace_exchange_key
from app.domain.candles import INTERVALS
from app.persistence.users import user_by_id
from app.schemas import SchemaError, parse_exchange_key, parse_login, parse_register, refuse_lone_surrogates
from web.app_keys import GUARD, RUNTIME, SETTINGS, VAULT
from web.auth import session_user
from web.auth_guard import SessionEnded
from web.plumbing import in_db
from web.problems import Problem
from web.session import (
    CSRF_FIELD,
    REFRESH_COOKIE,
    RENEWABLE_COOKIE,
    check_csrf,
    clear_session,
    csrf_token,
    remember_csrf,
    set_session,
)
from web.sign_in import check_credentials, create_user, end_session, renew, sign_in

if TYPE_CHECKING:
    from app.persistence.models import User
    from app.security.tokens import Claims

routes = web.RouteTableDef()
_NEXT = re.compile(r"/(trade/[A-Z0-9]{2,20}|account)")


def _default_symbol(request: web.Request) -> str:
    return next(iter(request.app[RUNTIME].specs))


def _next_path(request: web.Request, raw: str | None) -> str:
    """Where to go after signing in: only our own pages, never an arbitrary URL (open redirect)."""
    if raw and _NEXT.fullmatch(raw):
        return raw
    return f"/trade/{_default_symbol(request)}"


async def _render(request: web.Request, template: str, context: dict[str, Any], status: int = 200) -> web.Response:
    context = {"csrf": csrf_token(request), "default_symbol": _default_symbol(request), **context}
    response = aiohttp_jinja2.render_template(template, request, context, status=status)
    remember_csrf(request, response)
    response.headers["Cache-Control"] = "no-store"
    return response


def _redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


async def _form(request: web.Request) -> dict[str, str]:
    """The posted form's text fields, after the CSRF check; text that is not Unicode is a 400."""
    try:
        data = await request.post()
        form = {k: v for k, v in data.items() if isinstance(v, str)}
        refuse_lone_surrogates(form)  # a charset such as raw_unicode_escape can produce them
    except SchemaError as exc:
        raise Problem(400, exc.message, code="BAD_REQUEST", field=exc.field) from None
    except (ValueError, LookupError):  # undecodable bytes, an unknown charset, a broken multipart body
        raise Problem(400, "send the form as UTF-8 text", code="BAD_REQUEST") from None
    check_csrf(request, form.pop(CSRF_FIELD, ""))
    return form


def _error(exc: Problem | SchemaError) -> tuple[str, int, str | None]:
    if isinstance(exc, SchemaError):
        return exc.message, 400, exc.field
    return exc.detail, exc.status, exc.field


async def _current_user(request: web.Request) -> User | None:
    signed_in = await _session_and_user(request)
    return None if signed_in is None else signed_in[1]


async def _session_and_user(request: web.Request) -> tuple[Claims, User] | None:
    """The browser's live session and its user, or None (pages then redirect to the login form)."""
    claims = await session_user(request)
    if claims is None:
        return None
    user = await in_db(request, user_by_id, claims.user_id)
    return None if user is None else (claims, user)


def _sign_in_first(request: web.Request, path: str) -> web.Response:
    """A page that needs a session: renew it when the browser holds one (its access token has only
    expired, as after a closed tab), otherwise the login form, coming back here afterwards."""
    wanted = f"?next={path}" if _NEXT.fullmatch(path) else ""
    if request.cookies.get(RENEWABLE_COOKIE):
        return _redirect(f"/auth/resume{wanted}")
    return _redirect(f"/login{wanted}")


@routes.get("/auth/resume")
async def resume(request: web.Request) -> web.Response:
    """Renew the browser's session with its refresh cookie (sent only to /auth) and go on to `next`.

    Another site's link gets here without the SameSite=Strict cookies: nothing is renewed or cleared.
    """
    location = _next_path(request, request.query.get("next"))
    refresh = request.cookies.get(REFRESH_COOKIE)
    if refresh:
        try:
            issued = await renew(request, refresh[:512])
        except Problem:
            response = _redirect(f"/login?next={location}")
            clear_session(response)  # this browser's session is over
            return response
        response = _redirect(location)
        set_session(request, response, issued)
        return response
    return _redirect(f"/login?next={location}")


async def _signed_in(request: web.Request, user: User, location: str) -> web.Response:
    response = _redirect(location)
    set_session(request, response, await sign_in(request, user, "browser"))
    return response


@routes.get("/")
async def index(request: web.Request) -> web.Response:
    return _redirect(f"/trade/{_default_symbol(request)}")


@routes.get("/login")
async def login_page(request: web.Request) -> web.Response:
    return await _render(request, "login.html", {"next": _next_path(request, request.query.get("next")),
                                                 "form_email": ""})


@routes.post("/login")
async def login_submit(request: web.Request) -> web.Response:
    form: dict[str, str] = {}
    try:
        form = await _form(request)
        email, password = parse_login({"email": form.get("email", ""), "password": form.get("password", "")})
        user = await check_credentials(request, email, password)
    except (Problem, SchemaError) as exc:
        message, status, _ = _error(exc)
        return await _render(request, "login.html", {"error": message, "form_email": form.get("email", ""),
                                                     "next": _next_path(request, form.get("next"))}, status)
    return await _signed_in(request, user, _next_path(request, form.get("next")))


@routes.get("/register")
async def register_page(request: web.Request) -> web.Response:
    return await _render(request, "register.html", {"form_email": ""})


@routes.post("/register")
async def register_submit(request: web.Request) -> web.Response:
    form: dict[str, str] = {}
    try:
        form = await _form(request)
        body: dict[str, str] = {"email": form.get("email", ""), "password": form.get("password", "")}
        if form.get("binanceApiKey") or form.get("binanceSecretKey"):
            body["binanceApiKey"] = form.get("binanceApiKey", "")
            body["binanceSecretKey"] = form.get("binanceSecretKey", "")
        email, password, api_key, secret = parse_register(body)
        user = await create_user(request, email, password, api_key, secret)
    except (Problem, SchemaError) as exc:
        message, status, field = _error(exc)
        return await _render(request, "register.html", {"error": message, "field": field,
                                                        "form_email": form.get("email", "")}, status)
    return await _signed_in(request, user, f"/trade/{_default_symbol(request)}")


@routes.post("/logout")
async def logout(request: web.Request) -> web.Response:
    try:
        await _form(request)
    except Problem:
        return _redirect("/login")  # a forged logout changes nothing
    claims = await session_user(request)
    if claims is not None:
        await end_session(request, claims)
    response = _redirect("/login")
    clear_session(response)
    return response


@routes.get("/trade/{symbol}")
async def terminal(request: web.Request) -> web.Response:
    symbol = request.match_info["symbol"]
    signed_in = await _session_and_user(request)
    if signed_in is None:
        return _sign_in_first(request, f"/trade/{symbol}")
    claims, user = signed_in
    specs = request.app[RUNTIME].specs
    if symbol not in specs:
        return await _render(request, "not_found.html", {"what": f"There is no market called {symbol[:40]}.",
                                                         "user_email": user.email}, 404)
    settings = request.app[SETTINGS]
    try:
        state = await request.app[GUARD].check(claims)  # from memory: session_user has just checked it
    except SessionEnded:  # ended in between, on another node
        return _sign_in_first(request, f"/trade/{symbol}")
    return await _render(request, "terminal.html", {
        "user_email": user.email, "symbol": symbol, "spec": specs[symbol], "symbols": list(specs),
        "intervals": list(INTERVALS), "cfd_mmr": settings.cfd_mmr, "fee_rate": settings.fee_rate,
        "session_expires_ms": state.expires_at, "access_expires_ms": claims.exp * 1000})


async def _account(request: web.Request, user: User, status: int = 200, **extra: Any) -> web.Response:
    last4 = await in_db(request, key_last4, user.id)
    return await _render(request, "account.html", {"user_email": user.email, "last4": last4, **extra}, status)


@routes.get("/account")
async def account(request: web.Request) -> web.Response:
    user = await _current_user(request)
    if user is None:
        return _sign_in_first(request, "/account")
    return await _account(request, user, saved=request.query.get("saved"))


@routes.post("/account/keys")
async def save_keys(request: web.Request) -> web.Response:
    return await _account_form(request, _save_keys)


@routes.post("/account/keys/delete")
async def delete_keys(request: web.Request) -> web.Response:
    return await _account_form(request, _delete_keys)


async def _save_keys(request: web.Request, user: User, form: dict[str, str]) -> str:
    api_key, secret = parse_exchange_key({"apiKey": form.get("apiKey", ""), "secretKey": form.get("secretKey", "")})
    await in_db(request, replace_exchange_key, request.app[VAULT], user.id, api_key, secret)
    return "keys"


async def _delete_keys(request: web.Request, user: User, form: dict[str, str]) -> str:
    await in_db(request, remove_exchange_key, user.id)
    return "removed"


async def _account_form(request: web.Request,
                        action: Callable[[web.Request, User, dict[str, str]], Awaitable[str]]) -> web.Response:
    """A signed-in, CSRF-checked account form; errors show on the page, success redirects (PRG)."""
    user = await _current_user(request)
    if user is None:
        return _sign_in_first(request, "/account")
    try:
        saved = await action(request, user, await _form(request))
    except (Problem, SchemaError) as exc:
        message, status, field = _error(exc)
        return await _account(request, user, status, error=message, field=field)
    return _redirect(f"/account?saved={saved}")
