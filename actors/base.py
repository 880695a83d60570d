"""MailboxActor: a pykka actor whose mailbox is a Redis Stream consumer group.

The actor reads its stream on its own thread: a `_Poll` message reads one batch (blocking at most
`POLL_BLOCK_MS`, not at all while other messages wait), processes it, runs the timer when due and
tells the actor the next `_Poll`, so reading and processing need no thread handoff. An actor that
other threads `tell` (the PriceFeed's source) must not wait behind a read: it sets
`reads_own_mailbox = False`, and a pump thread reads for it and hands each batch over with a
blocking `ask`. Either way one batch is processed at a time (backpressure). The actor acks entries
only after their effect is committed. Entries that fail stay pending and are read again after a
growing delay while new entries keep flowing; after `max_deliveries` they go to the dead-letter
stream.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import pykka
import redis

from actors.runtime import Runtime
from app.hops import now_ns
from app.messages import traces_of
from app.messaging.streams import Consumer, Delivery, Producer, connect
from app.persistence.db import db

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ping:
    """In-process readiness probe used by the supervisor (never crosses a process boundary)."""


@dataclass(frozen=True)
class _Batch:
    deliveries: list[Delivery]


@dataclass(frozen=True)
class _Timer:
    pass


@dataclass(frozen=True)
class _Poll:
    """Read and process the next batch, then ask for the next poll."""


POLL_BLOCK_MS = 100  # the longest a read on the actor's thread blocks: how late a stop is seen
PUMP_BLOCK_MS = 500


class MailboxActor(pykka.ThreadingActor):
    # A daemon thread: an actor stuck in a call that never returns (a hung socket, a venue that does not
    # answer) must not keep a stopped process alive. The supervisor waits for it, then gives up; what the
    # thread had not committed is then lost as in a kill -9, which the outbox and the inbox make harmless.
    use_daemon_thread = True
    group: ClassVar[str] = ""
    timer_interval_s: ClassVar[float | None] = None
    max_deliveries: ClassVar[int] = 5
    start_at_end: ClassVar[bool] = False
    uses_db: ClassVar[bool] = True
    read_hop: ClassVar[str | None] = None  # the hop (app/hops.py) a traced message reaches when read here
    reads_own_mailbox: ClassVar[bool] = True  # False: a pump thread reads (see the module's docstring)
    noack: ClassVar[bool] = False  # True: read at most once, nothing acked (app/messaging/streams.Consumer)

    def __init__(self, runtime: Runtime, name: str, streams: list[str]) -> None:
        super().__init__()
        self.runtime = runtime
        self.name = name
        self.streams = streams
        self.consumer: Consumer | None = None
        self.redis: redis.Redis | None = None  # this actor's own connection, used from its thread
        self._stopping = threading.Event()
        self._pump_thread: threading.Thread | None = None
        self._next_timer = math.inf
        self._backoff = 0.05
        self._tracing: str | None = None

    # --- lifecycle -----------------------------------------------------------------------
    def on_start(self) -> None:
        if self.uses_db:
            db.connect(reuse_if_open=True)
        self.redis = connect(self.runtime.redis_url, private=True)
        self.consumer = Consumer(
            self.runtime.redis_url, self.streams, self.group or self.name, self.name,
            max_deliveries=self.max_deliveries, dead_letters=self.runtime.names.dead_letters,
            start_at_end=self.start_at_end, writer=self.redis, noack=self.noack,
        )
        self.recover()
        interval = self.timer_interval_s
        self._next_timer = time.monotonic() + interval if interval else math.inf
        self._tracing = self.read_hop if self.runtime.settings.trace_hops else None
        if self.reads_own_mailbox:
            self.actor_ref.tell(_Poll())
        else:
            self._pump_thread = threading.Thread(target=self._pump, name=f"pump-{self.name}", daemon=True)
            self._pump_thread.start()
        log.debug("%s started, reading %s", self.name, ", ".join(self.streams))

    def on_stop(self) -> None:
        self._shutdown()
        log.debug("%s stopped", self.name)

    def on_failure(self, exception_type: Any, exception_value: Any, traceback: Any) -> None:
        log.error("%s crashed: %s", self.name, exception_value)
        self._shutdown()

    def _shutdown(self) -> None:
        self._stopping.set()
        if self.consumer:
            self.consumer.interrupt()
        if self._pump_thread and self._pump_thread is not threading.current_thread():
            self._pump_thread.join(timeout=5)
        if self.consumer:
            self.consumer.close()
        if self.redis is not None:
            self.redis.close()
        if self.uses_db and not db.is_closed():
            db.close()

    # --- messages ------------------------------------------------------------------------
    def on_receive(self, message: Any) -> Any:
        try:
            if isinstance(message, _Poll):
                return self._poll()
            if isinstance(message, _Batch):
                return self._process(message.deliveries)
            if isinstance(message, _Timer):
                return self.on_timer()
            if isinstance(message, Ping):
                return self.name
            return super().on_receive(message)
        except (SystemExit, KeyboardInterrupt) as exc:
            self.runtime.fatal(f"{self.name} raised {type(exc).__name__}")
            raise

    def _process(self, deliveries: list[Delivery]) -> None:
        assert self.consumer is not None
        live = []
        for d in deliveries:
            if d.message is None:
                self.consumer.dead_letter(d, d.error or "undecodable")
            elif d.deliveries > self.max_deliveries:
                self.on_dead_letter(d)
                self.consumer.dead_letter(d, f"failed {d.deliveries - 1} times")
            else:
                live.append(d)
        if live:
            self.handle_batch(live)

    @property
    def producer(self) -> Producer:
        assert self.redis is not None, "only from the actor's own thread, after on_start"
        return Producer(self.redis)

    # --- hooks for subclasses --------------------------------------------------------------
    def recover(self) -> None:
        """Runs in on_start, before the first message: rebuild in-memory state, resend outbox rows."""

    def handle_batch(self, deliveries: list[Delivery]) -> None:
        raise NotImplementedError

    def on_timer(self) -> None:
        """Runs every `timer_interval_s` seconds in the actor's thread."""

    def on_dead_letter(self, delivery: Delivery) -> None:
        """A message is being given up on: undo whatever it reserved."""

    # --- reading the mailbox --------------------------------------------------------------------
    def _poll(self) -> None:
        """On the actor's thread: one read (no blocking while other messages wait), then the next poll."""
        if self._stopping.is_set():
            return
        self._step(self.on_timer, self._process, POLL_BLOCK_MS if self.actor_inbox.empty() else 0)
        if not self._stopping.is_set():
            self.actor_ref.tell(_Poll())

    def _pump(self) -> None:
        """On the pump thread: read, and hand timers and batches to the actor."""
        while not self._stopping.is_set():
            try:
                self._step(lambda: self.actor_ref.ask(_Timer(), timeout=60),
                           lambda batch: self.actor_ref.ask(_Batch(batch), timeout=300), PUMP_BLOCK_MS)
            except pykka.ActorDeadError:
                return

    def _step(self, timer: Callable[[], Any], process: Callable[[list[Delivery]], Any], longest_ms: int) -> None:
        """The timer when due, then one read waiting at most `longest_ms` (0: not at all) and its batch; a
        failure (Redis or the database unreachable, say) leaves the batch pending and backs off before the
        next step."""
        assert self.consumer is not None
        try:
            now = time.monotonic()
            if now >= self._next_timer:
                self._next_timer = now + (self.timer_interval_s or 0)
                timer()
            wait = min(longest_ms, (self._next_timer - time.monotonic()) * 1000)
            batch = self.consumer.read(int(max(1, wait)) if longest_ms else None)
            if batch and self._tracing:
                _stamp_read(batch, self._tracing)
            if batch and not self._stopping.is_set():
                process(batch)
        except pykka.ActorDeadError:
            raise
        except Exception:
            if self._stopping.is_set():
                return
            log.exception("%s: batch failed; retrying in %.2fs", self.name, self._backoff)
            self.consumer.retry_pending()
            self._stopping.wait(self._backoff)
            self._backoff = min(self._backoff * 2, 5.0)
        else:
            self._backoff = 0.05


def _stamp_read(batch: list[Delivery], hop: str) -> None:
    """Stamp `hop` on the traced messages of a batch as it is read (TRACE_HOPS only)."""
    now = now_ns()
    for d in batch:
        for trace in traces_of(d.message):
            trace[hop] = now
