"""The layers stay apart: SQL only under `app/persistence/`, `app/domain` free of I/O, and HTTP statuses
only at the web edge (`web/refusals.py` maps the kinds of the actors' rejections to them).

Read from the source (ast), not by importing, so a module that breaks the rule fails here even if no
test exercises the offending line.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Imported only to name peewee.OperationalError in the problem middleware (a database that went away
# is a 503): an exception type, not a query.
MAY_IMPORT_PEEWEE = {"web/problems.py"}

FORBIDDEN_IN_ACTORS_AND_WEB = ("peewee", "playhouse", "app.persistence.models", "app.persistence.sql")
SQL = re.compile(r"\bSELECT\b[\s\S]*\bFROM\b|\bSELECT\s+\d|\bINSERT\s+INTO\b|\bUPDATE\s+\S+\s+SET\b"
                 r"|\bDELETE\s+FROM\b")

# What app/domain may import: itself, the money rules, and pure standard-library modules (as of issue 10).
DOMAIN_MAY_IMPORT = {
    "__future__", "array", "collections", "collections.abc", "dataclasses", "decimal", "enum", "hashlib",
    "json", "math", "random", "typing",
}


def _modules(*folders: str) -> Iterator[tuple[str, ast.Module]]:
    for folder in folders:
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(), str(path))


def _type_checking_only(tree: ast.Module) -> set[ast.AST]:
    """Imports under `if TYPE_CHECKING:` (annotations only; nothing runs them)."""
    out: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            out.update(n for stmt in node.body for n in ast.walk(stmt))
    return out


def _imports(tree: ast.Module, skip: set[ast.AST] | None = None) -> Iterator[tuple[int, str]]:
    """(line, dotted name) of everything imported; `from a.b import c` is `a.b.c`."""
    skip = skip or set()
    for node in ast.walk(tree):
        if node in skip:
            continue
        if isinstance(node, ast.Import):
            yield from ((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "relative imports are not used in Troupe"
            yield from ((node.lineno, f"{node.module}.{a.name}") for a in node.names)


def _within(name: str, prefixes: tuple[str, ...] | set[str]) -> bool:
    """`name` is one of `prefixes` or inside one of them."""
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def sql_in(tree: ast.Module) -> list[tuple[int, str]]:
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value)]


@pytest.mark.parametrize(("text", "is_sql"), [
    ('UPDATE "order" SET exchange_sent_at = ? WHERE id = ?', True),
    ("SELECT 1", True),
    ("SELECT id FROM fill", True),
    ("INSERT INTO inbox (consumer) VALUES (?)", True),
    ("DELETE FROM outbox WHERE id = ?", True),
    ("update the order and set its status", False),
    ("select an order from the list", False),
])
def test_the_detector_knows_sql_when_it_sees_it(text: str, is_sql: bool) -> None:
    assert bool(sql_in(ast.parse(repr(text)))) is is_sql


def test_actors_and_web_handlers_go_through_the_persistence_door() -> None:
    found = []
    for name, tree in _modules("actors", "web"):
        found += [f"{name}:{line}: SQL {text[:60]!r}" for line, text in sql_in(tree)]
        forbidden = FORBIDDEN_IN_ACTORS_AND_WEB[1:] if name in MAY_IMPORT_PEEWEE else FORBIDDEN_IN_ACTORS_AND_WEB
        found += [f"{name}:{line}: imports {imported}" for line, imported in _imports(tree, _type_checking_only(tree))
                  if _within(imported, forbidden)]
    assert not found, "SQL belongs behind a repository in app/persistence/:\n" + "\n".join(found)


def test_the_domain_imports_no_io() -> None:
    found = []
    for name, tree in _modules("app/domain"):
        found += [f"{name}:{line}: imports {imported}" for line, imported in _imports(tree)
                  if not _within(imported, {"app.domain", "app.money", *DOMAIN_MAY_IMPORT})]
    assert not found, "app/domain is pure logic; move I/O to its caller:\n" + "\n".join(found)


# An HTTP client reads the status its venue answered with; that is Binance's HTTP, not a status of ours.
READS_A_VENUES_STATUS = {"app/exchange/binance.py"}


def _is_status(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int and 200 <= node.value <= 599


def http_statuses_in(tree: ast.Module) -> list[tuple[int, str]]:
    """Where code decides an HTTP status: an `http_status` name, `status=<4xx>`, `return 202, body`, or a
    table whose values are statuses (`{"NOT_OPEN": 404}`)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if "http_status" in (getattr(node, "id", None), getattr(node, "attr", None), getattr(node, "arg", None)):
            found.append((getattr(node, "lineno", 0), "http_status"))
        elif isinstance(node, ast.keyword) and node.arg == "status" and _is_status(node.value):
            found.append((node.value.lineno, f"status={node.value.value}"))  # type: ignore[attr-defined]
        elif isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple) and node.value.elts \
                and _is_status(node.value.elts[0]):
            found.append((node.lineno, f"return {node.value.elts[0].value}, ..."))  # type: ignore[attr-defined]
        elif isinstance(node, ast.Dict) and node.values and all(_is_status(v) for v in node.values):
            found.append((node.lineno, "a table of statuses"))
    return found


@pytest.mark.parametrize(("code", "is_http"), [
    ('raise OrderRejected("UNKNOWN_ORDER", "no such order", 404, http_status=404)', True),
    ("def __init__(self, code, message, http_status=422): self.http_status = http_status", True),
    ("Reply(msg_id=m, correlation_id=m, status=409, body=body)", True),
    ("BinanceError(message, http_status=response.status_code)", True),
    ("def _place(msg):\n    return 202, body, []", True),
    ('STATUS_OF = {"NOT_OPEN": 404, "NO_FUNDS": 409}', True),
    ('Reply.rejected(m, RejectionKind.CONFLICT, "CFD_UNAVAILABLE", "not here")', False),
    ('body = {"status": OrderStatus.PENDING.value, "orderId": 409}', False),
    ("MAX_TRAILING_DELTA = 2000\nlimit = min(limit, 500)", False),
])
def test_the_detector_knows_an_http_status_when_it_sees_one(code: str, is_http: bool) -> None:
    assert bool(http_statuses_in(ast.parse(code))) is is_http


def test_only_the_web_edge_decides_http_statuses() -> None:
    found = [f"{name}:{line}: {what}" for name, tree in _modules("app", "actors") if name not in READS_A_VENUES_STATUS
             for line, what in http_statuses_in(tree)]
    assert not found, ("answer with a RejectionKind (app/domain/answers.py); web/refusals.py maps kinds to "
                       "HTTP:\n" + "\n".join(found))


# The web layer's shapes: its modules, and the parsing of HTTP requests. Actors render with app/render.py.
WEB_SHAPES = ("web", "app.schemas")


def test_actors_and_the_app_layer_import_nothing_from_the_web_layer() -> None:
    found = [f"{name}:{line}: imports {imported}" for name, tree in _modules("app", "actors")
             for line, imported in _imports(tree)
             if _within(imported, ("web",)) or (name.startswith("actors/") and _within(imported, WEB_SHAPES))]
    assert not found, "the web edge imports the actors and the app layer, never the other way:\n" + "\n".join(found)


# User events travel typed (app/events.py) and are rendered at the edge (web/ws_render.py): neither the
# actors nor the executor's core (app/execution) render them. What still renders inside an actor is the
# REST body of a command's reply: the Gateway's answer to a cancel, the desk's answers to its commands.
RENDERERS = ("app.render", "app.cfd.render")
REPLY_RENDERERS = {"actors/gateway.py": {"app.render.order_json"},
                   "app/cfd/desk.py": {"app.cfd.render.reply_json", "app.cfd.render.cfd_position_json"}}


def test_actors_publish_typed_events_and_only_the_edge_renders_them() -> None:
    checked = [*_modules("actors"), *_modules("app/execution"),
               *((name, tree) for name, tree in _modules("app/cfd") if name == "app/cfd/desk.py")]
    found = [f"{name}:{line}: imports {imported}" for name, tree in checked for line, imported in _imports(tree)
             if _within(imported, RENDERERS) and imported not in REPLY_RENDERERS.get(name, set())]
    assert not found, ("build a typed event (app/events.py) and let web/ws_render.py render it:\n"
                       + "\n".join(found))


def test_the_events_are_domain_values() -> None:
    tree = ast.parse((ROOT / "app/events.py").read_text())
    found = [f"app/events.py:{line}: imports {imported}" for line, imported in _imports(tree)
             if not _within(imported, {"app.domain", "app.cfd.rules", "app.cfd.inputs", *DOMAIN_MAY_IMPORT})]
    assert not found, "app/events.py holds values, no I/O and no rendering:\n" + "\n".join(found)
