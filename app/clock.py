"""Wall-clock time in milliseconds: the one timestamp unit of every row and message."""

from __future__ import annotations

import time


def now_ms() -> int:
    return time.time_ns() // 1_000_000
