"""The desk's pure modules stay pure: they import only each other, the money rules and a few
standard or data-structure modules, never I/O (files, sockets, the database, Redis, the clock)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PURE = ("rules", "inputs", "engine", "triggers", "store", "codec")
ALLOWED = {"__future__", "array", "bisect", "collections", "collections.abc", "dataclasses", "decimal", "enum",
           "hashlib", "json", "sys", "typing", "sortedcontainers", "app.money", *(f"app.cfd.{m}" for m in PURE)}
PACKAGE = Path(__file__).resolve().parents[3] / "app" / "cfd"


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module == "app.cfd":  # `from app.cfd import rules`
                found |= {f"app.cfd.{alias.name}" for alias in node.names}
            else:
                found.add(module)
    return found


@pytest.mark.parametrize("module", PURE)
def test_a_pure_module_imports_no_io(module: str) -> None:
    assert _imports(PACKAGE / f"{module}.py") - ALLOWED == set()


def test_the_check_sees_an_io_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom app.persistence import models\nfrom app.cfd import journal\n")
    assert _imports(bad) - ALLOWED == {"os", "app.persistence", "app.cfd.journal"}
