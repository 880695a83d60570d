"""Logging set-up: plain text for a terminal, or one JSON object per line (`LOG_FORMAT=json`) for a
log collector; both on stderr. What is logged at INFO is what an operator wants to read: the
start-up summary, business events (orders, cancels, CFD positions, registrations, exchange keys)
and the shutdown; the machinery's chatter (actors starting, supervisor barriers) is DEBUG.

Nothing logged may carry a secret: passwords, tokens, tickets and exchange keys are never passed
to a logger (tests/system/test_logs.py greps a session's log for them), and URLs are shown with
`redact_url`.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
# Attributes every LogRecord has; anything else on a record came from `extra=` and is emitted as a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line: ts (UTC, ISO 8601, ms), level, logger, message, and
    `exc` (the traceback) or any `extra=` fields when present."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in out:
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure(level: str, fmt: str = "text", access_log: bool = False) -> None:
    """The root logger on stderr at `level`; the chatty libraries quieter; the access log on or off."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.INFO if access_log else logging.WARNING)
    logging.getLogger("pykka").setLevel(logging.WARNING)


def redact_url(url: str) -> str:
    """A URL fit for a log line: the password and any query string dropped (`sqlite:///…` is kept as is)."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url.partition("?")[0]
    userinfo, _, host = parts.netloc.rpartition("@")
    user, has_password, _ = userinfo.partition(":")
    return urlunsplit((parts.scheme, f"{user}:***@{host}" if has_password else f"{user}@{host}", parts.path, "", ""))
