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

from tests.support.helpers import PASSWORD, ServerProcess, new_email
from web.openapi import OPERATIONS

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


class Run:
    """One schemathesis run in its own folder (its config, cache and output), as a fresh account.

    The token goes to the spec's bearerAuth scheme only: with a plain -H header schemathesis would
    also make up the other schemes' credentials (a cookie, X-MBX-APIKEY) and the server refuses mixes.
    One worker per run (hypothesis's lambda descriptions are not thread-safe on CPython 3.11: a
    2-worker run died with "AST constructor recursion depth mismatch"); runs go side by side instead.
    Output goes to a file, not a pipe, so a run never waits for its reader.
    """

    def __init__(self, url: str, examples: int, selection: list[str], folder: Path) -> None:
        folder.mkdir()
        (folder / "schemathesis.toml").write_text(f'[auth.openapi.bearerAuth]\nbearer = "{_token(url)}"\n')
        self.output = folder / "output.txt"
        with self.output.open("w") as out:
            self.proc = subprocess.Popen(
                [str(SCHEMATHESIS), "run", f"{url}/openapi.json", "-u", url, "-c", CHECKS, "-n", str(examples),
                 "-w", "1", "--seed", "13", "--no-shrink", "--suppress-health-check", "all", *selection],
                stdout=out, stderr=subprocess.STDOUT, text=True, cwd=folder)

    def finish(self) -> tuple[int, int]:
        """(test cases generated, operations selected); every case must have passed."""
        code = self.proc.wait(timeout=540)
        out = self.output.read_text()
        assert code == 0, out[-6000:]
        found = re.search(r"Test cases:\s+(\d+) generated, (\d+) passed", out)
        selected = re.search(r"Selected: (\d+)/\d+", out)
        assert found is not None and selected is not None, out[-3000:]
        assert found.group(1) == found.group(2), out[-6000:]
        return int(found.group(1)), int(selected.group(1))


def test_every_operation_conforms_under_fuzzing(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "data")
    url = server.start()
    enders = [arg for path in ENDS_SESSION for arg in ("--exclude-path", path)]
    side_by_side: list[Run] = []
    try:
        side_by_side += [
            Run(url, 230, ["--include-path-regex", "^/(api/(trading|market|ws-ticket)|healthz|readyz)"],
                tmp_path / "market"),
            Run(url, 230, ["--include-path-regex", "^/(auth|api/(account|cfd))/", *enders], tmp_path / "account"),
        ]
        results = [run.finish() for run in side_by_side]
        last = [arg for path in ENDS_SESSION for arg in ("--include-path", path)]
        results.append(Run(url, 100, last, tmp_path / "session-enders").finish())
    finally:
        for run in side_by_side:
            if run.proc.poll() is None:  # a failed run left its neighbour running
                run.proc.kill()
                run.proc.wait()
        server.stop()
    total = sum(cases for cases, _ in results)
    print(f"schemathesis: {total} generated requests over {sum(n for _, n in results)} operations, 0 failures")
    assert sum(n for _, n in results) == len(OPERATIONS)
    assert total >= 10_000
