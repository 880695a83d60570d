"""Named fault points for the crash tests; inert unless TROUPE_FAULT names the point.

TROUPE_FAULT=<point> with TROUPE_FAULT_MODE:
- `kill` (default): SIGKILL the process on the TROUPE_FAULT_AFTER-th time the point is reached
  (default 1). SIGKILL, not sys.exit: SystemExit would let pykka stop actors cleanly.
- `exit`: raise SystemExit there (what the supervisor must treat as fatal).
- `raise`: raise RuntimeError every time (a poison message that can never be processed).
- `hang`: block that thread for good on the TROUPE_FAULT_AFTER-th time (an actor stuck in a call that
  never returns, which a stop must not wait for).
TROUPE_FAULT_KEY, when set, limits the fault to calls whose key contains it (e.g. a clientOrderId).
"""

from __future__ import annotations

import os
import signal
import threading

_POINT = os.environ.get("TROUPE_FAULT", "")
_MODE = os.environ.get("TROUPE_FAULT_MODE", "kill")
_AFTER = int(os.environ.get("TROUPE_FAULT_AFTER", "1") or "1")
_KEY = os.environ.get("TROUPE_FAULT_KEY", "")
_seen = 0
_lock = threading.Lock()


class InjectedFault(RuntimeError):
    pass


def crash_point(name: str, key: str = "") -> None:
    global _seen  # noqa: PLW0603 - one counter per process, by design
    if not _POINT or name != _POINT or (_KEY and _KEY not in key):
        return
    if _MODE == "raise":
        raise InjectedFault(f"injected failure at {name}")
    with _lock:
        _seen += 1
        if _seen < _AFTER:
            return
    if _MODE == "exit":
        raise SystemExit(f"injected SystemExit at {name}")
    if _MODE == "hang":
        threading.Event().wait()
    os.kill(os.getpid(), signal.SIGKILL)
