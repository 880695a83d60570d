"""The reply router's correlation, against a real Redis (an integration test: app/messaging/replies.py).

Each waiting handler gets the reply whose correlation id is its command's msg_id, whatever the order
replies arrive in; anything else on the reply stream is passed over; a late reply finds nobody.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
import redis.asyncio as aioredis

from app.messages import PriceTick, Reply, SubmitOrder, decode, encode
from app.messaging.replies import ReplyRouter


@pytest.fixture
async def router(redis_url: str) -> AsyncIterator[ReplyRouter]:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    r = ReplyRouter(redis_url, f"{prefix}:reply")
    await r.start()
    yield r
    await r.stop()
    client = aioredis.Redis.from_url(redis_url)
    await client.delete(f"{prefix}:reply", f"{prefix}:mbox")
    await client.aclose()


def reply(correlation_id: str, answer: str, **body: object) -> Reply:
    return Reply(msg_id=uuid.uuid4().hex, correlation_id=correlation_id, answer=answer, body=dict(body))


async def post(redis_url: str, stream: str, *payloads: bytes) -> None:
    client = aioredis.Redis.from_url(redis_url)
    for payload in payloads:
        await client.xadd(stream, {"m": payload})
    await client.aclose()


async def commands(redis_url: str, stream: str, expected: int) -> list[SubmitOrder]:
    client = aioredis.Redis.from_url(redis_url)
    try:
        for _ in range(200):
            entries = await client.xrange(stream)
            if len(entries) >= expected:
                return [decode(fields[b"m"]) for _, fields in entries]  # type: ignore[misc]
            await asyncio.sleep(0.01)
        raise AssertionError(f"{stream} holds {len(entries)} entries, not {expected}")
    finally:
        await client.aclose()


async def test_each_ask_gets_the_reply_to_its_own_command_in_any_order(router: ReplyRouter, redis_url: str) -> None:
    mbox = router.stream.replace(":reply", ":mbox")
    sent = [SubmitOrder(msg_id=router.new_id(), order_id=i, user_id=1) for i in range(3)]
    waiting = [asyncio.create_task(router.ask(mbox, m, timeout=5)) for m in sent]
    assert await commands(redis_url, mbox, 3) == sent  # sent in one pipeline, in order
    await post(redis_url, router.stream,
               encode(reply(sent[2].msg_id, "REJECTED", code="C")),
               b"not a message",                                       # undecodable: passed over
               encode(PriceTick(msg_id="p", symbol="X", price=Decimal(1), bid=Decimal(1), ask=Decimal(1),
                                ts=1, seq=1)),                          # not a Reply: passed over
               encode(reply("nobody-asked", "REJECTED")),                     # unknown correlation: passed over
               encode(reply(sent[0].msg_id, "ACCEPTED", orderId=0)),
               encode(reply(sent[1].msg_id, "ACCEPTED", orderId=1)))
    got = await asyncio.gather(*waiting)
    assert [(r.correlation_id, r.answer, r.body) for r in got] == [
        (sent[0].msg_id, "ACCEPTED", {"orderId": 0}), (sent[1].msg_id, "ACCEPTED", {"orderId": 1}),
        (sent[2].msg_id, "REJECTED", {"code": "C"})]
    assert router._futures == {}


async def test_a_second_reply_to_the_same_command_is_ignored(router: ReplyRouter, redis_url: str) -> None:
    mbox = router.stream.replace(":reply", ":mbox")
    cmd = SubmitOrder(msg_id=router.new_id(), order_id=1, user_id=1)
    waiting = asyncio.create_task(router.ask(mbox, cmd, timeout=5))
    await commands(redis_url, mbox, 1)
    await post(redis_url, router.stream, encode(reply(cmd.msg_id, "ACCEPTED", first=True)),
               encode(reply(cmd.msg_id, "REJECTED", first=False)))
    answer = await waiting
    assert (answer.answer, answer.body) == ("ACCEPTED", {"first": True})


async def test_an_unanswered_ask_times_out_and_is_forgotten(router: ReplyRouter, redis_url: str) -> None:
    mbox = router.stream.replace(":reply", ":mbox")
    cmd = SubmitOrder(msg_id=router.new_id(), order_id=1, user_id=1)
    with pytest.raises(TimeoutError):
        await router.ask(mbox, cmd, timeout=0.2)
    assert router._futures == {}
    later = SubmitOrder(msg_id=router.new_id(), order_id=2, user_id=1)
    waiting = asyncio.create_task(router.ask(mbox, later, timeout=5))
    await commands(redis_url, mbox, 2)
    await post(redis_url, router.stream, encode(reply(cmd.msg_id, "ACCEPTED")),  # too late: nobody is waiting
               encode(reply(later.msg_id, "ACCEPTED")))
    await waiting  # replies are read in order: the late one has been seen and passed over
    assert router._futures == {}


async def test_replies_written_before_start_are_not_delivered_again(redis_url: str) -> None:
    stream = f"t{uuid.uuid4().hex[:8]}:reply"
    await post(redis_url, stream, encode(reply("old", "ACCEPTED")))
    r = ReplyRouter(redis_url, stream)
    await r.start()
    try:
        fut: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        r._futures["old"] = fut
        marker: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        r._futures["marker"] = marker
        await post(redis_url, stream, encode(reply("marker", "ACCEPTED")))
        await asyncio.wait_for(marker, 5)  # read in order: had the old reply been read again, it came first
        assert not fut.done()
        await post(redis_url, stream, encode(reply("old", "CREATED")))
        assert (await asyncio.wait_for(fut, 5)).answer == "CREATED"
    finally:
        await r.stop()
        client = aioredis.Redis.from_url(redis_url)
        await client.delete(stream)
        await client.aclose()


async def test_stop_cancels_whoever_still_waits(redis_url: str) -> None:
    stream = f"t{uuid.uuid4().hex[:8]}:reply"
    r = ReplyRouter(redis_url, stream)
    await r.start()
    cmd = SubmitOrder(msg_id=r.new_id(), order_id=1, user_id=1)
    waiting = asyncio.create_task(r.ask(f"{stream}:mbox", cmd, timeout=30))
    await commands(redis_url, f"{stream}:mbox", 1)
    await r.stop()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    client = aioredis.Redis.from_url(redis_url)
    await client.delete(stream, f"{stream}:mbox")
    await client.aclose()
