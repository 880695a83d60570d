"""Text that is not valid Unicode gets a 4xx, never a 500, on every endpoint that reads text.

Issue 9: `{"email":"x@example.com","password":"abcdefghij\\ud800"}` on /auth/login or /auth/register
gave 500 with a traceback: the strict JSON loader let the unpaired surrogate through to `encode()`.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import re
from typing import Any

import pytest
from aiohttp import web as aioweb

import web
from tests.support.helpers import PASSWORD, auth, new_email, raw_http, register

LONE = "\ud800"
ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.01", "price": "1000"}

# Every route that reads a JSON body: (method, path, a valid body, a string field of it).
JSON_ROUTES: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", "/auth/register", {"email": "x@example.com", "password": PASSWORD}, "password"),
    ("POST", "/auth/login", {"email": "x@example.com", "password": PASSWORD}, "email"),
    ("POST", "/api/trading/orders", {**ORDER, "clientOrderId": "c1"}, "clientOrderId"),
    ("POST", "/api/trading/orderList/oco", {"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.01",
                                            "price": "90000", "stopPrice": "1000"}, "symbol"),
    ("POST", "/api/cfd/transfer", {"direction": "TO_MARGIN", "amount": "1"}, "clientRequestId"),
    ("POST", "/api/cfd/positions", {"symbol": "BTCUSDT", "direction": "LONG", "margin": "10", "leverage": "2"},
     "direction"),
    ("PATCH", "/api/cfd/positions/{position_id}", {"stopLossPrice": "1000"}, "stopLossPrice"),
    ("POST", "/api/trading/orders/{order_id}/replace", {"price": "1000", "clientOrderId": "amend-1"}, "clientOrderId"),
    ("PUT", "/api/account/exchange-key", {"apiKey": "A" * 20, "secretKey": "B" * 20}, "apiKey"),
    ("POST", "/auth/refresh", {"refreshToken": "r" * 43}, "refreshToken"),
    ("POST", "/auth/logout-all", {"keepCurrent": True}, "keepCurrent"),
    ("POST", "/api/account/password", {"currentPassword": PASSWORD, "newPassword": "a new passphrase"},
     "newPassword"),
    ("POST", "/api/account/api-keys", {"label": "bot", "permissions": ["read"]}, "label"),
    ("POST", "/api/account/reset", {"password": PASSWORD, "clientRequestId": "r1"}, "clientRequestId"),
]


def _variants(body: dict[str, Any], field: str) -> list[tuple[str, dict[str, Any], str | None]]:
    """The surrogate in a field's value, in a nested value, and in a key (which is never echoed)."""
    return [
        ("value", {**body, field: f"abcdefghij{LONE}"}, field),
        ("alone", {**body, field: LONE}, field),
        ("low half", {**body, field: "x\udc00y"}, field),
        ("nested", {**body, field: [{"deep": [f"x{LONE}"]}]}, field),
        ("key", {f"k{LONE}": "x", **body}, None),
    ]


@pytest.mark.parametrize("method,path,body,field", JSON_ROUTES, ids=[f"{m} {p}" for m, p, _, _ in JSON_ROUTES])
async def test_a_lone_surrogate_in_any_json_body_is_a_400_naming_it(
        client: Any, method: str, path: str, body: dict[str, Any], field: str) -> None:
    token, _ = await register(client)
    url = path.replace("{position_id}", "1").replace("{order_id}", "1")
    for name, variant, named in _variants(body, field):
        text = json.dumps(variant)  # ensure_ascii: the surrogate travels as a \ud800 escape
        assert "\\ud800" in text or "\\udc00" in text
        resp = await client.request(method, url, data=text, headers={**auth(token),
                                                                      "Content-Type": "application/json"})
        raw = await resp.text()
        assert resp.status == 400, (name, resp.status, raw)
        assert resp.content_type == "application/problem+json", name
        problem = json.loads(raw)
        assert problem["code"] == "BAD_REQUEST" and problem["status"] == 400, (name, problem)
        assert "surrogate" in problem["detail"], (name, problem)
        assert problem.get("field") == named, (name, problem)


async def test_the_e_mail_with_a_lone_surrogate_is_a_400_on_login_and_register(client: Any) -> None:
    for path in ("/auth/login", "/auth/register"):
        resp = await client.post(path, data=json.dumps({"email": f"x{LONE}@example.com", "password": PASSWORD}),
                                 headers={"Content-Type": "application/json"})
        assert resp.status == 400, (path, await resp.text())
        assert (await resp.json())["field"] == "email"


async def test_paired_surrogates_are_ordinary_text(client: Any) -> None:
    email = new_email()
    password = "a long passphrase \ud83d\ude00"  # an emoji, escaped as a surrogate pair
    text = json.dumps({"email": email, "password": password})
    assert "\\ud83d\\ude00" in text
    resp = await client.post("/auth/register", data=text, headers={"Content-Type": "application/json"})
    assert resp.status == 201, await resp.text()
    resp = await client.post("/auth/login", json={"email": email, "password": password})
    assert resp.status == 200, await resp.text()


def _json_routes_in_the_app() -> set[tuple[str, str]]:
    found = set()
    for module_info in pkgutil.iter_modules(web.__path__):
        module = importlib.import_module(f"web.{module_info.name}")
        table = getattr(module, "routes", None)
        if not isinstance(table, aioweb.RouteTableDef):
            continue
        for route in table:
            if isinstance(route, aioweb.RouteDef) and "read_json(" in inspect.getsource(route.handler):
                found.add((route.method, route.path))
    return found


def test_every_route_that_reads_json_is_covered_above() -> None:
    assert _json_routes_in_the_app() == {(m, p) for m, p, _, _ in JSON_ROUTES}


# --- the page forms ---------------------------------------------------------------------------------

def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match
    return match.group(1)


def _multipart(fields: dict[str, bytes]) -> tuple[bytes, str]:
    boundary = "troupe-test-boundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n'.encode() + v + b"\r\n"
             for k, v in fields.items()]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def _bad_forms(csrf: str) -> list[tuple[str, bytes, str]]:
    """(name, body, content type): undecodable bytes, codecs that yield surrogates, unknown charsets."""
    urlencoded = "application/x-www-form-urlencoded"
    multipart_raw, multipart_type = _multipart({"csrf": csrf.encode(), "email": b"x@example.com",
                                                "password": b"abcdefghij\xed\xa0\x80"})
    return [
        ("raw surrogate bytes", f"csrf={csrf}&email=x%40example.com&password=abcdefghij".encode() + b"\xed\xa0\x80",
         urlencoded),
        ("raw invalid UTF-8", f"csrf={csrf}&email=x%40example.com&password=abcdefghij".encode() + b"\xff\xfe",
         urlencoded),
        ("codec yielding a surrogate", f"csrf={csrf}&email=x%40example.com&password=abcdefghij\\ud800".encode(),
         f"{urlencoded}; charset=raw_unicode_escape"),
        ("surrogate in the CSRF field", b"csrf=\\ud800&email=x%40example.com&password=abcdefghij",
         f"{urlencoded}; charset=unicode_escape"),
        ("unknown charset", f"csrf={csrf}&email=x%40example.com&password=abcdefghij".encode(),
         f"{urlencoded}; charset=no-such-codec"),
        ("multipart raw surrogate", multipart_raw, multipart_type),
        ("multipart unknown charset", *_multipart_with_charset(csrf)),
    ]


def _multipart_with_charset(csrf: str) -> tuple[bytes, str]:
    boundary = "troupe-test-boundary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{csrf}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="password"\r\n'
            f"Content-Type: text/plain; charset=no-such-codec\r\n\r\nabcdefghij\r\n--{boundary}--\r\n")
    return body.encode(), f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("page", ["/login", "/register"])
async def test_page_forms_with_text_that_is_not_unicode_are_refused_on_the_page(client: Any, page: str) -> None:
    csrf = _csrf(await (await client.get(page)).text())
    for name, body, content_type in _bad_forms(csrf):
        resp = await client.post(page, data=body, headers={"Content-Type": content_type}, allow_redirects=False)
        text = await resp.text()
        assert resp.status == 400 and resp.content_type == "text/html", (name, resp.status, text)
        assert "Traceback" not in text and "incident" not in text, name
    # Percent-escapes that are not UTF-8 decode to U+FFFD (valid text): an ordinary wrong password.
    resp = await client.post(page, data=f"csrf={csrf}&email={new_email()}&password=abcdefghij%ED%A0%80".encode(),
                             headers={"Content-Type": "application/x-www-form-urlencoded"}, allow_redirects=False)
    assert resp.status in (303, 401), resp.status


async def test_the_api_refuses_undecodable_bytes_in_a_json_body(client: Any) -> None:
    body = b'{"email":"x@example.com","password":"abcdefghij\xed\xa0\x80"}'
    resp = await client.post("/auth/login", data=body, headers={"Content-Type": "application/json"})
    assert resp.status == 400 and resp.content_type == "application/problem+json"


async def test_a_surrogate_escape_in_a_header_or_cookie_is_not_a_500(client: Any) -> None:
    """aiohttp decodes header bytes with surrogateescape: a \\xff byte arrives as \\udcff."""
    token, _ = await register(client)
    for header in (b"Authorization: Bearer \xff", b"Authorization: Bearer " + token.encode() + b"\xff",
                   b"Cookie: troupe_session=\xff", b"Cookie: troupe_session=" + token.encode() + b"\xff"):
        for method in (b"GET", b"POST"):
            request = (method + b" /api/trading/orders HTTP/1.1\r\nHost: x\r\n" + header +
                       b"\r\nX-CSRF-Token: \xff\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
                       b"Connection: close\r\n\r\n{}")
            resp = await raw_http(str(client.host), int(client.port), request)
            assert 400 <= resp.status < 500, (header, method, resp.status, resp.body)
