"""Named crash points for the kill tests: TROUPE_FAULT=<point> SIGKILLs the process there.

SIGKILL, not sys.exit: SystemExit would let pykka stop actors cleanly, which is not a crash.
TROUPE_FAULT_AFTER=n crashes on the n-th time the point is reached (default 1). Unset in production.
"""

from __future__ import annotations

import os
import signal
import threading

_POINT = os.environ.get("TROUPE_FAULT", "")
_AFTER = int(os.environ.get("TROUPE_FAULT_AFTER", "1") or "1")
_seen = 0
_lock = threading.Lock()


def crash_point(name: str) -> None:
    global _seen  # noqa: PLW0603 - one counter per process, by design
    if not _POINT or name != _POINT:
        return
    with _lock:
        _seen += 1
        if _seen >= _AFTER:
            os.kill(os.getpid(), signal.SIGKILL)
