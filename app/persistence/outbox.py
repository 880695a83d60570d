"""The outbox (messages committed with the change that caused them) and the inbox (messages applied).

Both are written inside the caller's transaction: that is what makes relaying at-least-once and
applying exactly-once.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable

from app.clock import now_ms
from app.messages import Message, encode
from app.persistence import sql
from app.persistence.models import Outbox

_outbox_seq = itertools.count()


def outbox_add(origin: str, items: Iterable[tuple[str, Message]]) -> list[tuple[str, str, bytes]]:
    """Insert messages to publish after commit; returns (id, stream, payload) for the relay.

    Ids are generated here (time, then a process-wide counter) so a batch is one INSERT.
    """
    out = []
    for stream, msg in items:
        row_id = f"{time.time_ns():020d}-{next(_outbox_seq):09d}"
        out.append((row_id, stream, encode(msg)))
    sql.execute_many("INSERT INTO outbox (id, origin, stream, payload, created_at) VALUES (?, ?, ?, ?, ?)",
                     ((i, origin, st, p.decode(), now_ms()) for i, st, p in out))
    return out


def outbox_pending(origin: str) -> list[tuple[str, str, bytes]]:
    rows = Outbox.select().where(Outbox.origin == origin).order_by(Outbox.id)
    return [(r.id, r.stream, r.payload.encode()) for r in rows]


def outbox_delete(ids: list[str]) -> None:
    """Hand-written (every batch of the Gateway and the Executor runs it), 500 ids a statement."""
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        sql.execute(f"DELETE FROM outbox WHERE id IN ({', '.join('?' * len(chunk))})", chunk)  # noqa: S608


def inbox_add(consumer: str, msg_id: str) -> bool:
    """Record a consumed message in the effect's transaction; False if it was already recorded."""
    cursor = sql.execute("INSERT INTO inbox (consumer, msg_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                         (consumer, msg_id, now_ms()))
    return bool(cursor.rowcount)
