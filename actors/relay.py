"""The outbox relay: after a commit, the committing actor appends its outbox rows to their streams.

Published rows are deleted in the actor's next transaction (no extra commit on the hot path), and
every row left over from a crash is published again at start-up; consumers dedupe by msg_id.
"""

from __future__ import annotations

import redis.client

from app.messaging.streams import EVENTS_MAXLEN, Producer, add_raw
from app.persistence.outbox import outbox_delete, outbox_pending


class OutboxRelay:
    def __init__(self, origin: str, producer: Producer, events_stream: str) -> None:
        self.origin = origin
        self.producer = producer
        self.events_stream = events_stream
        self.published: list[str] = []

    def publish(self, rows: list[tuple[str, str, bytes]]) -> None:
        pipe = self.producer.client.pipeline(transaction=False)
        if self.add_to(pipe, rows):
            pipe.execute()
            self.sent(rows)

    def add_to(self, pipe: redis.client.Pipeline, rows: list[tuple[str, str, bytes]]) -> int:
        """Queue the rows' XADDs on `pipe`, to share its round trip; call `sent` once it has run."""
        return add_raw(pipe, ((stream, payload, EVENTS_MAXLEN if stream == self.events_stream else None)
                              for _, stream, payload in rows))

    def sent(self, rows: list[tuple[str, str, bytes]]) -> None:
        """The rows are on Redis: the next transaction deletes them. Rows of a round trip that failed stay
        in the outbox and go out again at the next start."""
        self.published.extend(r[0] for r in rows)

    def forget_published(self) -> None:
        """Delete rows already on Redis; call inside the actor's next write transaction."""
        if self.published:
            outbox_delete(self.published)
            self.published = []

    def resend_leftovers(self) -> int:
        rows = outbox_pending(self.origin)
        self.publish(rows)
        return len(rows)
