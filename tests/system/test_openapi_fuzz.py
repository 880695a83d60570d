"""schemathesis against /openapi.json on a live Troupe process, signed in with a Bearer token.

Every operation is fuzzed with the checks not_a_server_error, status_code_conformance and
response_schema_conformance; the run must generate at least 10,000 requests and fail none. The
operations that end the session (logout, logout-all, revoking a session, a password change) run
last, in a second pass with a fresh token, so they cannot sign the first pass out.
"""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from tests.helpers import PASSWORD, ServerProcess, new_email

pytestmark = pytest.mark.timeout(600)

CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance"
ENDS_SESSION = ("/auth/logout", "/auth/logout-all", "/api/account/sessions/{id}", "/api/account/password")
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def _token(url: str) -> str:
    """A fresh account's Bearer token, from the live server's /auth/register."""
    address = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname or "127.0.0.1", address.port, timeout=30)
    try:
        connection.request("POST", "/auth/register", json.dumps({"email": new_email(), "password": PASSWORD}),
                           {"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 201
        return str(json.load(response)["token"])
    finally:
        connection.close()


def _run(url: str, examples: int, paths: list[str], exclude: bool, cwd: Path) -> int:
    """One schemathesis run; returns how many test cases it generated (every one must pass)."""
    selection = [arg for path in paths for arg in ("--exclude-path" if exclude else "--include-path", path)]
    # The token goes to the spec's bearerAuth scheme only: with a plain -H header schemathesis would
    # also make up the other schemes' credentials (a cookie, X-MBX-APIKEY) and the server refuses mixes.
    (cwd / "schemathesis.toml").write_text(f'[auth.openapi.bearerAuth]\nbearer = "{_token(url)}"\n')
    result = subprocess.run(
        [str(SCHEMATHESIS), "run", f"{url}/openapi.json", "-u", url,
         "-c", CHECKS, "-n", str(examples), "-w", "2", "--seed", "13", "--no-shrink", "--suppress-health-check",
         "all", *selection], capture_output=True, text=True, timeout=540, check=False, cwd=cwd)
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
        total = _run(url, 220, list(ENDS_SESSION), exclude=True, cwd=tmp_path)
        total += _run(url, 100, list(ENDS_SESSION), exclude=False, cwd=tmp_path)
    finally:
        server.stop()
    print(f"schemathesis: {total} generated requests, 0 failures")
    assert total >= 10_000
