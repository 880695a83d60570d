"""Redis Streams mailboxes against a real Redis server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from app.messages import SubmitOrder, decode
from app.messaging.streams import Consumer, Producer, connect


@pytest.fixture
def stream(redis_url: str) -> Iterator[str]:
    name = f"t{uuid.uuid4().hex[:8]}:mbox"
    yield name
    client = connect(redis_url)
    client.delete(name, f"{name}:dlq")
    client.close()


def msg(i: int) -> SubmitOrder:
    return SubmitOrder(msg_id=f"m{i}", order_id=i, user_id=1)


def test_unacked_entries_are_redelivered_to_the_same_consumer_after_restart(redis_url: str, stream: str) -> None:
    producer = Producer(connect(redis_url))
    for i in range(3):
        producer.send(stream, msg(i))
    first = Consumer(redis_url, [stream], "g", "worker-1", dead_letters=f"{stream}:dlq")
    got = first.read(100)
    assert [d.message for d in got] == [msg(0), msg(1), msg(2)]
    first.ack(got[:1])
    first.close()  # "crash": two entries were delivered but never acked
    again = Consumer(redis_url, [stream], "g", "worker-1", dead_letters=f"{stream}:dlq")
    redelivered = again.read(100)
    assert [d.message for d in redelivered] == [msg(1), msg(2)]
    assert all(d.deliveries == 2 for d in redelivered)
    again.ack(redelivered)
    assert again.read(10) == []  # nothing pending, nothing new
    again.close()


def test_idle_entries_of_a_dead_consumer_are_claimed(redis_url: str, stream: str) -> None:
    Producer(connect(redis_url)).send(stream, msg(1))
    dead = Consumer(redis_url, [stream], "g", "old-name", dead_letters=f"{stream}:dlq")
    assert len(dead.read(100)) == 1
    dead.close()
    heir = Consumer(redis_url, [stream], "g", "new-name", claim_idle_ms=0, dead_letters=f"{stream}:dlq")
    claimed = heir.read(100)
    assert [d.message for d in claimed] == [msg(1)]
    heir.close()


def test_poison_and_undecodable_entries_go_to_the_dead_letter_stream(redis_url: str, stream: str) -> None:
    client = connect(redis_url)
    client.xadd(stream, {"m": b"not json"})
    consumer = Consumer(redis_url, [stream], "g", "w", dead_letters=f"{stream}:dlq")
    [bad] = consumer.read(100)
    assert bad.message is None and bad.error
    consumer.dead_letter(bad, bad.error or "")
    parked = client.xrange(f"{stream}:dlq")
    assert len(parked) == 1 and parked[0][1][b"m"] == b"not json"
    assert client.xpending(stream, "g")["pending"] == 0
    consumer.close()


def test_a_vanished_group_is_recreated_and_nothing_is_lost(redis_url: str, stream: str) -> None:
    client = connect(redis_url)
    consumer = Consumer(redis_url, [stream], "g", "w", dead_letters=f"{stream}:dlq")
    client.delete(stream)  # Redis restarted without its data
    assert consumer.read(10) == []
    Producer(client).send(stream, msg(5))
    got = consumer.read(100)
    assert [decode(client.xrange(stream)[0][1][b"m"])] == [d.message for d in got]
    consumer.close()
