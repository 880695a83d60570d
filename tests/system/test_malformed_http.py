"""Requests aiohttp refuses before any handler, against the real server started by run.py.

Issue 9: a request header over 8,190 bytes got a bare 400 that echoed the header and logged an
ERROR traceback. Wanted: 431 with a problem document, nothing echoed, nothing logged above DEBUG.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from yarl import URL

from tests.support.helpers import RawResponse, ServerProcess, raw_http

SECRET_LOOKING = b"s3cr3t" * 1500  # 9,000 bytes: over aiohttp's 8,190-byte limit for one header field
LOUD = re.compile(r"\b(INFO|WARNING|ERROR|CRITICAL)\b|Traceback")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("malformed") / "data", {"LOG_LEVEL": "DEBUG"})
    process.start()
    yield process
    process.stop()


async def _send(server: ServerProcess, request: bytes) -> tuple[RawResponse, str]:
    """The answer, and what the server logged meanwhile (checked up to a request that follows it)."""
    url = URL(server.url)
    before = server.log_path.stat().st_size
    resp = await raw_http(str(url.host), int(url.port or 80), request)
    marker = f"/healthz?after-{before}"  # the access log line of a later request bounds the window
    follow = await raw_http(str(url.host), int(url.port or 80),
                            f"GET {marker} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert follow.status == 200, "the server still answers"
    log = _read_until(server.log_path, before, "/healthz")
    return resp, log


def _read_until(path: Path, offset: int, needle: str) -> str:
    with path.open("rb") as f:
        f.seek(offset)
        text = f.read().decode(errors="replace")
    return text.split(needle, 1)[0]


def _assert_problem(resp: RawResponse, status: int) -> dict[str, object]:
    assert resp.status == status, (resp.status, resp.body[:300])
    assert resp.headers["content-type"].startswith("application/problem+json"), resp.headers
    body = json.loads(resp.body)
    assert body["status"] == status and body["detail"] and body["type"].startswith("/problems/")
    return body


def _quiet(log: str) -> None:
    """Only DEBUG lines about it (access lines aside: LOG_LEVEL=DEBUG turns those on for every request)."""
    assert "DEBUG   aiohttp.server: refused a malformed request" in log, "the window holds the refusal"
    loud = [line for line in log.splitlines() if LOUD.search(line) and "aiohttp.access" not in line]
    assert not loud, loud


MALFORMED: list[tuple[str, bytes, int]] = [
    ("oversized header", b"GET /api/market/symbols HTTP/1.1\r\nHost: x\r\nX-Big: " + SECRET_LOOKING + b"\r\n\r\n",
     431),
    ("oversized cookie", b"POST /auth/login HTTP/1.1\r\nHost: x\r\nCookie: troupe_session=" + SECRET_LOOKING +
     b"\r\n\r\n", 431),
    ("oversized header name", b"GET / HTTP/1.1\r\nHost: x\r\nX-" + SECRET_LOOKING + b": 1\r\n\r\n", 431),
    ("oversized request line", b"GET /api/market/ticker?symbol=" + SECRET_LOOKING + b" HTTP/1.1\r\nHost: x\r\n\r\n",
     414),
    ("header without colon", b"GET / HTTP/1.1\r\nHost x\r\n\r\n", 400),
    ("200 headers", b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + b"\r\n", 400),
    ("TLS hello", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", 400),
    ("NUL in method", b"G\x00T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    ("gzip that is not gzip", b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
     b"Content-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello", 400),
    ("deflate that is not deflate", b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
     b"Content-Encoding: deflate\r\nContent-Length: 5\r\n\r\nhello", 400),
    ("two content lengths", b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"
     b"hello", 400),
]


@pytest.mark.parametrize("request_bytes,status", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
async def test_unparsable_requests_are_problems_that_echo_nothing_and_log_at_debug(
        server: ServerProcess, request_bytes: bytes, status: int) -> None:
    resp, log = await _send(server, request_bytes)
    _assert_problem(resp, status)
    assert b"s3cr3t" not in resp.body and "s3cr3t" not in log
    _quiet(log)
