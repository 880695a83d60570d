"""Redis Streams as durable actor mailboxes (synchronous side, used from actor threads).

Delivery is at least once: an entry stays in the consumer group's pending list until the consumer
acks it, which actors do only after the entry's effect is committed. Consumers dedupe by msg_id.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass

import redis
import redis.asyncio as aioredis
import redis.client
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.messages import CodecError, Message, decode, encode

log = logging.getLogger(__name__)

MARKET_MAXLEN = 20_000
EVENTS_MAXLEN = 50_000
REPLY_MAXLEN = 10_000
RETRY_FIRST_S = 0.05
RETRY_MAX_S = 5.0


@dataclass(frozen=True, slots=True)
class Delivery:
    stream: str
    entry_id: str
    message: Message | None  # None when the entry could not be decoded
    deliveries: int  # how many times this entry has been handed to a consumer
    error: str | None = None


def connect(url: str, *, blocking: bool = False, private: bool = False) -> redis.Redis:
    """A client with explicit timeouts.

    A blocking reader gets its own connection (redis-py #2663); so does each actor for its writes
    (`private`), which spares every call the shared pool's bookkeeping and locking.
    """
    return redis.Redis.from_url(
        url,
        socket_timeout=None if blocking else 10,
        socket_connect_timeout=5,
        health_check_interval=0 if blocking else 30,
        single_connection_client=blocking or private,
    )


POOL_SIZE = 256  # connections one process's shared asyncio client opens at most
POOL_WAIT_S = 5.0  # how long a command waits for one of them before it fails (a 503 at the web edge)


def connect_async(url: str) -> aioredis.Redis:
    """The web node's shared asyncio client: a bounded pool whose commands wait for a free connection.
    redis-py's default pool refuses at once past 100 connections in use ("Too many connections"), so
    a burst of requests (a few thousand WebSockets connecting at once) was answered 503."""
    pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=POOL_SIZE, timeout=POOL_WAIT_S,
                                                    socket_timeout=10, socket_connect_timeout=5)
    return aioredis.Redis(connection_pool=pool)


def connect_once(url: str, timeout_s: float) -> redis.Redis:
    """A client for probes that must fail fast: one attempt per call, not redis-py's ten retries."""
    return redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                retry=Retry(NoBackoff(), 0))


class Producer:
    """Appends messages to streams. XADD is not retried: a retry could append twice."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def send(self, stream: str, msg: Message, maxlen: int | None = None) -> str:
        entry = self.client.xadd(stream, {"m": encode(msg)}, maxlen=maxlen, approximate=True)
        return entry.decode() if isinstance(entry, bytes) else str(entry)

    def send_raw_many(self, items: Iterable[tuple[str, bytes, int | None]]) -> None:
        pipe = self.client.pipeline(transaction=False)
        if add_raw(pipe, items):
            pipe.execute()


def add_raw(pipe: redis.client.Pipeline, items: Iterable[tuple[str, bytes, int | None]]) -> int:
    """Queue XADDs on a pipeline; returns how many."""
    n = 0
    for stream, payload, maxlen in items:
        pipe.xadd(stream, {"m": payload}, maxlen=maxlen, approximate=True)
        n += 1
    return n


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Consumer:
    """One named consumer of one consumer group over one or more streams."""

    def __init__(self, url: str, streams: list[str], group: str, consumer: str, *, batch: int = 200,
                 claim_idle_ms: int = 60_000, max_deliveries: int = 5, dead_letters: str = "",
                 start_at_end: bool = False, writer: redis.Redis | None = None, noack: bool = False) -> None:
        # The reader serves the pump thread (reads, claims, delivery counts); the writer serves the
        # actor's thread (acks, dead letters).
        self.reader = connect(url, blocking=True)
        self.client = writer or connect(url)
        self._own_client = writer is None
        self.streams = streams
        self.group = group
        self.name = consumer
        self.batch = batch
        self.claim_idle_ms = claim_idle_ms
        self.max_deliveries = max_deliveries
        self.dead_letter_stream = dead_letters
        self._backlog = True  # read our own pending entries before new ones
        self._backlog_at = 0.0
        self._retry_delay = RETRY_FIRST_S
        self._next_claim = 0.0
        # NOACK: entries never enter the pending list, so there is nothing to ack, claim or read again; for a
        # fan-out reader whose clients resync on their own (the Broadcaster), at most once is enough
        self.noack = noack
        self.ensure_groups(start_at_end)

    def ensure_groups(self, start_at_end: bool = False) -> None:
        for stream in self.streams:
            try:
                self.client.xgroup_create(stream, self.group, id="$" if start_at_end else "0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
                if start_at_end and self.noack:  # skips what it missed, and drops what a run that acked
                    self.client.xgroup_destroy(stream, self.group)  # left pending: nothing reads that again
                    self.client.xgroup_create(stream, self.group, id="$", mkstream=True)
                elif start_at_end:  # a fan-out consumer skips what it missed while the process was down
                    self.client.xgroup_setid(stream, self.group, id="$")

    def retry_pending(self) -> None:
        """Read our pending entries again after a growing delay (50 ms doubling to 5 s).

        New entries keep flowing meanwhile, so one failing message never stalls the mailbox; each
        re-read raises the entries' delivery count, which dead-letters a poison message in the end.
        """
        self._backlog = True
        self._backlog_at = time.monotonic() + self._retry_delay
        self._retry_delay = min(self._retry_delay * 2, RETRY_MAX_S)

    def read(self, block_ms: int | None) -> list[Delivery]:
        """The next batch, waiting at most `block_ms` for one (None: not at all)."""
        try:
            return self._read(block_ms)
        except redis.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            log.warning("%s: consumer group vanished (Redis restarted without data?); recreating", self.name)
            self.ensure_groups()
            self._backlog = True
            return []

    def _read(self, block_ms: int | None) -> list[Delivery]:
        now = time.monotonic()
        if self.noack:
            return self._xread({s: ">" for s in self.streams}, block_ms, history=False)
        if self._backlog and now >= self._backlog_at:
            got = self._xread({s: "0" for s in self.streams}, None, history=True)
            if got:
                return got
            self._backlog = False
            self._retry_delay = RETRY_FIRST_S
        if now >= self._next_claim:
            self._next_claim = now + self.claim_idle_ms / 4000
            claimed = self._claim()
            if claimed:
                return claimed
        if self._backlog and block_ms is not None:  # wake up in time for the retry
            block_ms = max(1, min(block_ms, int((self._backlog_at - now) * 1000) + 1))
        return self._xread({s: ">" for s in self.streams}, block_ms, history=False)

    def _xread(self, ids: dict[str, str], block_ms: int | None, history: bool) -> list[Delivery]:
        resp = self.reader.xreadgroup(self.group, self.name, ids, count=self.batch, block=block_ms, noack=self.noack)
        out: list[Delivery] = []
        for stream_raw, entries in resp or []:
            stream = _s(stream_raw)
            counts = self._delivery_counts(stream, entries) if history and entries else {}
            for entry_id_raw, fields in entries:
                entry_id = _s(entry_id_raw)
                out.append(self._delivery(stream, entry_id, fields, counts.get(entry_id, 1)))
        return out

    def _delivery(self, stream: str, entry_id: str, fields: dict[bytes, bytes] | None, count: int) -> Delivery:
        if not fields:  # trimmed away while pending
            return Delivery(stream, entry_id, None, count, "entry no longer exists")
        try:
            return Delivery(stream, entry_id, decode(fields[b"m"]), count)
        except (CodecError, KeyError) as exc:
            return Delivery(stream, entry_id, None, count, f"undecodable: {exc}")

    def _delivery_counts(self, stream: str, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> dict[str, int]:
        first, last = _s(entries[0][0]), _s(entries[-1][0])
        rows = self.reader.xpending_range(stream, self.group, min=first, max=last, count=len(entries) + 10,
                                          consumername=self.name)
        return {_s(r["message_id"]): int(r["times_delivered"]) for r in rows}

    def _claim(self) -> list[Delivery]:
        """Take over entries another consumer of this group left idle (it died or was renamed)."""
        out: list[Delivery] = []
        for stream in self.streams:
            resp = self.reader.xautoclaim(stream, self.group, self.name, self.claim_idle_ms, "0-0",
                                          count=self.batch)
            entries = resp[1] if len(resp) > 1 else []
            if entries:
                counts = self._delivery_counts(stream, entries)
                for entry_id_raw, fields in entries:
                    entry_id = _s(entry_id_raw)
                    out.append(self._delivery(stream, entry_id, fields, counts.get(entry_id, 1)))
                log.warning("%s: claimed %d idle entries from %s", self.name, len(entries), stream)
        return out

    def ack(self, deliveries: Iterable[Delivery]) -> None:
        pipe = self.client.pipeline(transaction=False)
        if self.ack_in(pipe, deliveries):
            pipe.execute()

    def ack_in(self, pipe: redis.client.Pipeline, deliveries: Iterable[Delivery]) -> bool:
        """Queue the acks on `pipe` (to share a round trip); False if there is nothing to ack."""
        if self.noack:
            return False
        by_stream: dict[str, list[str]] = {}
        for d in deliveries:
            by_stream.setdefault(d.stream, []).append(d.entry_id)
        for stream, ids in by_stream.items():
            pipe.xack(stream, self.group, *ids)
        return bool(by_stream)

    def dead_letter(self, delivery: Delivery, reason: str) -> None:
        """Park a message that cannot be processed, with its reason, and ack it."""
        log.error("%s: dead-lettering %s %s after %d deliveries: %s", self.name, delivery.stream,
                  delivery.entry_id, delivery.deliveries, reason)
        raw = self.client.xrange(delivery.stream, delivery.entry_id, delivery.entry_id)
        payload = raw[0][1].get(b"m", b"") if raw else b""
        self.client.xadd(self.dead_letter_stream, {"stream": delivery.stream, "id": delivery.entry_id,
                                                   "group": self.group, "reason": reason[:500], "m": payload})
        self.client.xack(delivery.stream, self.group, delivery.entry_id)

    def interrupt(self) -> None:
        """Wake a reader blocked in XREADGROUP (from another thread) by shutting its socket."""
        conn = self.reader.connection
        sock = getattr(conn, "_sock", None) if conn is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.reader.close()
        if self._own_client:
            self.client.close()
