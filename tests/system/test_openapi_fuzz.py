"""schemathesis against /openapi.json on a live Troupe process, signed in with a Bearer token.

Every operation is fuzzed with the checks not_a_server_error, status_code_conformance and
response_schema_conformance; the run must generate at least 10,000 requests and fail none. The
operations that end the session (logout, logout-all, revoking a session, a password change) run
last, in a second pass with a fresh token, so they cannot sign the first pass out.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import PASSWORD, ServerProcess, new_email

pytestmark = pytest.mark.timeout(600)

CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"
ENDS_SESSION = ("/auth/logout", "/auth/logout-all", "/api/account/sessions/{id}", "/api/account/password")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def _token(url: str) -> str:
    body = json.dumps({"email": new_email(), "password": PASSWORD}).encode()
    request = urllib.request.Request(f"{url}/auth/register", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return str(json.load(response)["token"])


def _run(url: str, examples: int, paths: list[str], exclude: bool) -> int:
    """One schemathesis run; returns how many test cases it generated (every one must pass)."""
    selection = [arg for path in paths for arg in ("--exclude-path" if exclude else "--include-path", path)]
    result = subprocess.run(
        [str(SCHEMATHESIS), "run", f"{url}/openapi.json", "-u", url, "-H", f"Authorization: Bearer {_token(url)}",
         "-c", CHECKS, "-n", str(examples), "-w", "2", "--seed", "13", "--no-shrink", "--suppress-health-check",
         "all", *selection], capture_output=True, text=True, timeout=540, check=False)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-6000:]
    found = re.search(r"Test cases:\s+(\d+) generated, (\d+) passed", out)
    assert found is not None, out[-3000:]
    assert found.group(1) == found.group(2), out[-6000:]
    return int(found.group(1))


def test_every_operation_conforms_under_fuzzing(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data")
    url = server.start()
    try:
        total = _run(url, 220, list(ENDS_SESSION), exclude=True)
        total += _run(url, 100, list(ENDS_SESSION), exclude=False)
    finally:
        server.stop()
    print(f"schemathesis: {total} generated requests, 0 failures")
    assert total >= 10_000
