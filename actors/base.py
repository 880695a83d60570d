"""MailboxActor: a pykka actor whose mailbox is a Redis Stream consumer group.

A pump thread reads batches from the stream and hands each batch to the actor with a blocking
`ask`, so the actor processes one batch at a time (backpressure) and the pump learns of failures.
The actor acks entries only after their effect is committed. Entries that fail stay pending and
are read again after a growing delay while new entries keep flowing; after `max_deliveries` they
go to the dead-letter stream.
"""

from __future__ import annotations

import logging
import math
import threading
import time
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


class MailboxActor(pykka.ThreadingActor):
    group: ClassVar[str] = ""
    timer_interval_s: ClassVar[float | None] = None
    max_deliveries: ClassVar[int] = 5
    start_at_end: ClassVar[bool] = False
    uses_db: ClassVar[bool] = True
    read_hop: ClassVar[str | None] = None  # the hop (app/hops.py) a traced message reaches when read here

    def __init__(self, runtime: Runtime, name: str, streams: list[str]) -> None:
        super().__init__()
        self.runtime = runtime
        self.name = name
        self.streams = streams
        self.consumer: Consumer | None = None
        self.redis: redis.Redis | None = None  # this actor's own connection, used from its thread
        self._stopping = threading.Event()
        self._pump_thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------
    def on_start(self) -> None:
        if self.uses_db:
            db.connect(reuse_if_open=True)
        self.redis = connect(self.runtime.redis_url, private=True)
        self.consumer = Consumer(
            self.runtime.redis_url, self.streams, self.group or self.name, self.name,
            max_deliveries=self.max_deliveries, dead_letters=self.runtime.names.dead_letters,
            start_at_end=self.start_at_end, writer=self.redis,
        )
        self.recover()
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

    # --- the pump (its own thread) ---------------------------------------------------------
    def _pump(self) -> None:
        assert self.consumer is not None
        interval = self.timer_interval_s
        next_timer = time.monotonic() + interval if interval else math.inf
        backoff = 0.05
        tracing = self.read_hop if self.runtime.settings.trace_hops else None
        while not self._stopping.is_set():
            try:
                now = time.monotonic()
                if now >= next_timer:
                    next_timer = now + (interval or 0)
                    self.actor_ref.ask(_Timer(), timeout=60)
                block_ms = int(max(1, min(500, (next_timer - time.monotonic()) * 1000)))
                batch = self.consumer.read(block_ms)
                if batch and tracing:
                    _stamp_read(batch, tracing)
                if batch and not self._stopping.is_set():
                    self.actor_ref.ask(_Batch(batch), timeout=300)
            except pykka.ActorDeadError:
                return
            except Exception:  # e.g. Redis or the database unreachable: back off, then try again
                if self._stopping.is_set():
                    return
                log.exception("%s: batch failed; retrying in %.2fs", self.name, backoff)
                self.consumer.retry_pending()
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            else:
                backoff = 0.05


def _stamp_read(batch: list[Delivery], hop: str) -> None:
    """Stamp `hop` on the traced messages of a batch as the pump reads it (TRACE_HOPS only)."""
    now = now_ns()
    for d in batch:
        for trace in traces_of(d.message):
            trace[hop] = now
