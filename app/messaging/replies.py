"""Request/reply over Redis for the aiohttp loop: never a blocking wait on an actor.

A web node sends a command carrying `reply_to` (its own reply stream) and a msg_id, and awaits an
asyncio future; a reader task on the reply stream resolves futures by correlation id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

import redis.asyncio as aioredis

from app.events import OrderUpdated
from app.messages import CodecError, EventBatch, Message, Reply, decode, encode
from app.messaging.streams import connect_async

log = logging.getLogger(__name__)


class ReplyRouter:
    def __init__(self, url: str, reply_stream: str) -> None:
        self.url = url
        self.stream = reply_stream
        self._futures: dict[str, asyncio.Future[Reply]] = {}
        self._task: asyncio.Task[None] | None = None
        self._reader: aioredis.Redis | None = None
        self.sender: aioredis.Redis = connect_async(url)
        self._outgoing: list[tuple[str, bytes, asyncio.Future[None]]] = []
        self._flush_scheduled = False

    async def start(self) -> None:
        # A dedicated connection for the blocking read (redis-py #2663: never share one).
        self._reader = aioredis.Redis.from_url(self.url, socket_timeout=None, single_connection_client=True)
        last = await self._reader.xinfo_stream(self.stream) if await self._reader.exists(self.stream) else None
        start_id = last["last-generated-id"] if last else "0-0"
        self._task = asyncio.create_task(self._run(start_id), name="reply-router")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for fut in self._futures.values():
            if not fut.done():
                fut.cancel()
        if self._reader:
            await self._reader.aclose()
        await self.sender.aclose()

    async def _run(self, last_id: bytes | str) -> None:
        assert self._reader is not None
        backoff = 0.05
        while True:
            try:
                resp = await self._reader.xread({self.stream: last_id}, count=500, block=1000)
                backoff = 0.05
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("reply router: %s; retrying in %.2fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            for _stream, entries in resp or []:
                for entry_id, fields in entries:
                    last_id = entry_id
                    try:
                        reply = decode(fields[b"m"])
                    except (CodecError, KeyError):
                        continue
                    if isinstance(reply, Reply):
                        fut = self._futures.pop(reply.correlation_id, None)
                        if fut is not None and not fut.done():
                            fut.set_result(reply)

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    async def send(self, stream: str, msg: Message) -> None:
        """XADD `msg`; everything sent in one loop iteration goes out in one pipeline."""
        loop = asyncio.get_running_loop()
        sent: asyncio.Future[None] = loop.create_future()
        self._outgoing.append((stream, encode(msg), sent))
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(lambda: loop.create_task(self._flush()))
        await sent

    async def _flush(self) -> None:
        batch, self._outgoing = self._outgoing, []
        self._flush_scheduled = False
        pipe = self.sender.pipeline(transaction=False)
        for stream, payload, _ in batch:
            pipe.xadd(stream, {"m": payload})
        try:
            await pipe.execute()
        except Exception as exc:
            for _, _, sent in batch:
                if not sent.done():
                    sent.set_exception(exc)
            return
        for _, _, sent in batch:
            if not sent.done():
                sent.set_result(None)

    async def ask(self, stream: str, msg: Message, timeout: float) -> Reply:  # noqa: ASYNC109
        """Send `msg` (whose msg_id is the correlation id) and wait for its reply."""
        fut: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._futures[msg.msg_id] = fut
        try:
            await self.send(stream, msg)
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._futures.pop(msg.msg_id, None)


class OrderWatch:
    """Futures resolved when an order changes, fed with the events topic the node's Broadcaster reads.

    A synchronous answer (the Binance-compatible route's MARKET order, a cancel) registers its order
    id, reads the order once (its change may have come before the watch), and awaits the next
    change if it has to. Only ids someone waits for cost anything; the rest is one dict lookup.
    """

    def __init__(self) -> None:
        self._waiting: dict[int, list[asyncio.Future[None]]] = {}

    def watch(self, order_id: int) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(order_id, []).append(fut)
        return fut

    def forget(self, order_id: int, fut: asyncio.Future[None]) -> None:
        futures = self._waiting.get(order_id)
        if futures is not None and fut in futures:
            futures.remove(fut)
            if not futures:
                del self._waiting[order_id]

    def dispatch(self, messages: list[Message]) -> None:
        """On the event loop, with what the Broadcaster delivered."""
        if not self._waiting:
            return
        for msg in messages:
            if isinstance(msg, EventBatch):
                for event in msg.events:
                    if isinstance(event, OrderUpdated):
                        for fut in self._waiting.pop(event.order.id, ()):
                            if not fut.done():
                                fut.set_result(None)
