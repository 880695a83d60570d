"""A one-for-one supervisor for pykka actors (pykka has none).

Children start in order, each behind a readiness barrier, and stop in reverse. A watchdog thread
notices any child that is no longer alive (a crash while handling a tell, a failure in on_start,
a BaseException) and starts a fresh instance with exponential backoff. More than `max_restarts`
within `within_s` seconds is a failure it cannot heal: it reports unhealthy and calls `give_up`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import pykka

from actors.base import Ping
from app import metrics

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 15.0  # how long a stop waits for one child to finish its batch before leaving it behind


@dataclass
class ChildSpec:
    name: str
    factory: Callable[[], pykka.ActorRef]
    max_restarts: int = 5
    within_s: float = 60.0


@dataclass
class _Child:
    spec: ChildSpec
    ref: pykka.ActorRef | None = None
    restarts: deque[float] = field(default_factory=deque)
    backoff: float = 0.1


class SupervisorError(RuntimeError):
    pass


class Supervisor:
    def __init__(self, specs: list[ChildSpec], give_up: Callable[[str], None],
                 ready_timeout: float = 30.0) -> None:
        self._children = [_Child(s) for s in specs]
        self._give_up = give_up
        self._ready_timeout = ready_timeout
        self._stopping = threading.Event()
        self._watchdog: threading.Thread | None = None
        self.failure: str | None = None
        self._lock = threading.Lock()

    def _start_child(self, child: _Child) -> None:
        ref = child.spec.factory()
        child.ref = ref
        try:
            ref.ask(Ping(), timeout=self._ready_timeout)
        except (pykka.ActorDeadError, pykka.Timeout) as exc:
            raise SupervisorError(f"{child.spec.name} did not become ready: {exc!r}") from exc

    def start(self) -> None:
        """Start every child in order; raise SupervisorError (after stopping the started ones) if one fails."""
        started: list[_Child] = []
        try:
            for child in self._children:
                self._start_child(child)
                started.append(child)
                log.debug("supervisor: %s ready", child.spec.name)
        except SupervisorError:
            for child in reversed(started):
                self._stop_child(child)
            raise
        self._watchdog = threading.Thread(target=self._watch, name="supervisor", daemon=True)
        self._watchdog.start()

    def _watch(self) -> None:
        while not self._stopping.wait(0.1):
            for child in self._children:
                if self._stopping.is_set() or self.failure:
                    return
                if child.ref is not None and child.ref.is_alive():
                    continue
                self._restart(child)

    def _restart(self, child: _Child) -> None:
        now = time.monotonic()
        while child.restarts and now - child.restarts[0] > child.spec.within_s:
            child.restarts.popleft()
        if len(child.restarts) >= child.spec.max_restarts:
            self._fail(f"{child.spec.name} died {len(child.restarts) + 1} times within "
                       f"{child.spec.within_s:.0f}s; giving up")
            return
        child.restarts.append(now)
        metrics.ACTOR_RESTARTS.labels(child.spec.name).inc()
        log.warning("supervisor: %s is dead; restarting in %.2fs", child.spec.name, child.backoff)
        if self._stopping.wait(child.backoff):
            return
        child.backoff = min(child.backoff * 2, 5.0)
        try:
            self._start_child(child)
            log.info("supervisor: %s restarted", child.spec.name)
            child.backoff = max(0.1, child.backoff / 2)
        except SupervisorError as exc:
            log.error("supervisor: restart failed: %s", exc)

    def _fail(self, reason: str) -> None:
        with self._lock:
            if self.failure:
                return
            self.failure = reason
        log.critical("supervisor: %s", reason)
        self._give_up(reason)

    def fatal(self, reason: str) -> None:
        """An actor hit something a restart cannot heal (SystemExit, KeyboardInterrupt)."""
        self._fail(reason)

    def _stop_child(self, child: _Child) -> bool:
        """Stop one child; False if it did not stop in time (stuck: its daemon thread is left behind)."""
        if child.ref is not None:
            try:
                child.ref.stop(timeout=STOP_TIMEOUT_S)
            except pykka.ActorDeadError:
                pass
            except pykka.Timeout:
                self._fail(f"{child.spec.name} did not stop within {STOP_TIMEOUT_S:.0f}s; leaving it behind")
                return False
        return True

    def stop(self) -> None:
        self._stopping.set()
        if self._watchdog:
            self._watchdog.join(timeout=10)
        stuck: set[pykka.ActorRef | None] = set()
        for child in reversed(self._children):
            if not self._stop_child(child):
                stuck.add(child.ref)
        leftover = [a for a in pykka.ActorRegistry.get_all() if a.is_alive() and a not in stuck]
        if leftover:
            log.error("supervisor: %d actors still alive after stop; stopping them", len(leftover))
            for ref in leftover:
                with contextlib.suppress(pykka.ActorDeadError, pykka.Timeout):
                    ref.stop(timeout=STOP_TIMEOUT_S)

    def status(self) -> dict[str, bool]:
        return {c.spec.name: bool(c.ref and c.ref.is_alive()) for c in self._children}

    @property
    def healthy(self) -> bool:
        return self.failure is None and all(self.status().values())
