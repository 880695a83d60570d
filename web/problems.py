"""Errors as application/problem+json (RFC 9457), and the middleware that guarantees no 5xx leaks a trace."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import peewee
import redis.exceptions as redis
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong

from app.schemas import SchemaError

log = logging.getLogger("troupe.web")

PROBLEM_TYPE = "application/problem+json"


def problem_body(status: int, code: str, detail: str, field: str | None = None) -> dict[str, Any]:
    """An RFC 9457 problem document; `code` is the machine-readable reason, also its title."""
    body: dict[str, Any] = {"type": f"/problems/{code.lower()}", "title": code, "status": status,
                            "detail": detail, "code": code}
    if field:
        body["field"] = field
    return body


def problem(status: int, detail: str, *, code: str | None = None, field: str | None = None,
            headers: dict[str, str] | None = None, **extra: Any) -> web.Response:
    body = problem_body(status, code or _reason(status), detail, field)
    body.update(extra)
    return web.Response(status=status, text=json.dumps(body), content_type=PROBLEM_TYPE, headers=headers)


def _reason(status: int) -> str:
    return _REASONS.get(status, "ERROR")


_REASONS = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
            409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE", 414: "URI_TOO_LONG", 415: "UNSUPPORTED_MEDIA_TYPE",
            422: "UNPROCESSABLE", 429: "TOO_MANY_REQUESTS", 431: "HEADER_TOO_LARGE", 500: "INTERNAL_ERROR",
            503: "UNAVAILABLE", 504: "TIMEOUT"}


class Problem(Exception):
    """Raise from a handler to answer with a problem document."""

    def __init__(self, status: int, detail: str, *, code: str | None = None, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.code, self.field, self.headers = status, detail, code, field, headers


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Problem as p:
        return problem(p.status, p.detail, code=p.code, field=p.field, headers=p.headers)
    except SchemaError as exc:  # every handler's request parsing fails the same way
        return problem(400, exc.message, code="BAD_REQUEST", field=exc.field)
    except web.RequestPayloadError:  # the client broke the body's compression or chunked framing
        return problem(400, "the request body cannot be read: check its Content-Encoding and framing",
                       code="BAD_REQUEST")
    except web.HTTPException as exc:
        if exc.status < 400 or not _is_api(request):
            raise
        return problem(exc.status, exc.reason or _REASONS.get(exc.status, "error"), headers=_keep(exc))
    except (redis.ConnectionError, redis.TimeoutError, peewee.OperationalError) as exc:
        log.warning("%s %s: a backing service is unavailable: %s", request.method, request.path, exc)
        return problem(503, "a backing service is briefly unavailable; retry shortly (for orders, retry with the "
                       "same clientOrderId so nothing is placed twice)", code="UNAVAILABLE",
                       headers={"Retry-After": "2"})
    except Exception:
        incident = uuid.uuid4().hex[:12]
        log.exception("unhandled error %s on %s %s", incident, request.method, request.path)
        return problem(500, f"internal error; incident {incident} is logged", code="INTERNAL_ERROR")


def _keep(exc: web.HTTPException) -> dict[str, str]:
    return {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}


def _is_api(request: web.Request) -> bool:
    return request.path.startswith(("/api/", "/auth/", "/ws", "/healthz", "/readyz"))


class MalformedRequestHandler(web.RequestHandler):
    """A connection that answers what aiohttp cannot parse (before any handler or middleware runs)
    with a problem document: 431 for a header field over the limit, 414 for a request line over
    it, 400 otherwise. The client's bytes are never echoed and the event is logged at DEBUG only:
    it is the client's mistake, and a header may hold a secret."""

    __slots__ = ()

    def handle_error(self, request: web.BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if not isinstance(exc, HttpProcessingError):
            return super().handle_error(request, status, exc, message)
        status, detail = self._refusal(exc)
        self.logger.debug("refused a malformed request from %s: %d %s", request.remote, status, type(exc).__name__)
        response = problem(status, detail)
        response.force_close()
        return response

    def log_exception(self, *args: Any, **kw: Any) -> None:
        """aiohttp drains an unread body after the answer; one the client broke is not our error."""
        if isinstance(exc := kw.get("exc_info"), web.RequestPayloadError):
            self.logger.debug("refused a malformed request body: %s", exc)
        else:
            super().log_exception(*args, **kw)

    def _refusal(self, exc: HttpProcessingError) -> tuple[int, str]:
        if isinstance(exc, LineTooLong):  # args: (the line, the limit it broke, its size)
            if exc.args[1] == self.max_line_size and self.max_line_size != self.max_field_size:
                return 414, f"the request line (method, path and query) is longer than {self.max_line_size} bytes"
            return 431, (f"a request header is longer than {self.max_field_size} bytes; send smaller headers "
                         "(large cookies included)")
        return 400, "the request is not valid HTTP/1.1"
