"""Every problem document's `type` resolves to a page that explains it (RFC 9457).

Issue 9: problem `type` URLs such as /problems/filter_failure were 404.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from tests.support.helpers import auth, register
from web.problem_types import PROBLEM_TYPES
from web.problems import _REASONS, _reason

ROOT = Path(__file__).resolve().parents[3]
# Calls that carry a problem code: the web edge's own (its problems, and the table of the app layer's
# refusals and of the actors' rejections), and the domain errors and replies the actors refuse with.
CODE_CARRIERS = {"Problem", "problem", "problem_body", "Refusal", "rejection", "OrderRejected", "rejected", "CfdError"}
CODE = re.compile(r"[A-Z][A-Z0-9_]{2,}")


def _name(func: ast.expr) -> str:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _codes_in(tree: ast.AST) -> set[str]:
    """Upper-case string literals passed to a code carrier, defaults of a `code` parameter, values
    under a "code" key, and fallbacks of `.get("code", ...)`."""
    found: set[str] = set()

    def literal(node: ast.AST | None) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and CODE.fullmatch(node.value):
            found.add(node.value)

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _name(node.func)
            if name in CODE_CARRIERS:
                for arg in [*node.args, *(k.value for k in node.keywords)]:
                    literal(arg)
            elif name == "get" and len(node.args) == 2 and isinstance(node.args[0], ast.Constant) \
                    and node.args[0].value == "code":
                literal(node.args[1])
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "code":
                    literal(value)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            positional = [*args.posonlyargs, *args.args]
            defaults = dict(zip([a.arg for a in positional[len(positional) - len(args.defaults):]], args.defaults,
                                strict=True))
            defaults.update({a.arg: d for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d})
            literal(defaults.get("code"))
    return found


def codes_the_api_can_return() -> set[str]:
    from app.cfd.desk import KIND_OF  # the desk's refusal codes, some named by constants the scan cannot follow

    found = set(_REASONS.values()) | {_reason(599)} | set(KIND_OF)  # 599: a status without a name of its own
    for folder in ("web", "actors", "app"):
        for path in (ROOT / folder).rglob("*.py"):
            found |= _codes_in(ast.parse(path.read_text(), str(path)))
    return found


def test_every_code_the_api_can_return_has_a_page() -> None:
    codes = codes_the_api_can_return()
    # The scan finds codes of every origin: the web edge, the Gateway's order checks, the CFD desk.
    assert {"CSRF", "EMAIL_TAKEN", "FILTER_FAILURE", "UNKNOWN_SYMBOL", "NO_FUNDS", "INVALID", "CFD_REJECTED",
            "HEADER_TOO_LARGE", "ERROR"} <= codes
    assert sorted(codes - PROBLEM_TYPES.keys()) == [], "add these to web/problem_types.py"
    assert sorted(PROBLEM_TYPES.keys() - codes) == [], "no longer returned: remove from web/problem_types.py"


async def test_each_problem_type_has_a_page(client: Any) -> None:
    index = await client.get("/problems")
    assert index.status == 200 and index.content_type == "text/html"
    listing = await index.text()
    for code, kind in PROBLEM_TYPES.items():
        assert f'href="/problems/{code.lower()}"' in listing
        page = await client.get(f"/problems/{code.lower()}")
        assert page.status == 200 and page.content_type == "text/html", code
        text = await page.text()
        assert kind.title.replace("'", "&#39;") in text and code in text, code


async def test_an_unknown_problem_type_is_a_404_page(client: Any) -> None:
    page = await client.get("/problems/no_such_problem")
    assert page.status == 404 and page.content_type == "text/html"
    assert "NO_SUCH_PROBLEM" in await page.text()


async def test_the_type_of_real_problems_resolves(client: Any) -> None:
    token, _ = await register(client)
    answers = [
        await client.get("/api/nope"),
        await client.get("/api/trading/orders/123456", headers=auth(token)),
        await client.post("/api/trading/orders", json={"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                                                       "quantity": "0.01", "price": "1000.001"}, headers=auth(token)),
        await client.post("/auth/login", json={"email": "nobody@example.com", "password": "wrong password"}),
    ]
    types = [(await a.json())["type"] for a in answers]
    assert types == ["/problems/not_found", "/problems/unknown_order", "/problems/filter_failure",
                     "/problems/invalid_credentials"]
    for problem_type in types:
        page = await client.get(problem_type)
        assert page.status == 200 and page.content_type == "text/html", problem_type
