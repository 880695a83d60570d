"""Broadcaster: hands market data and user events to this node's WebSocket hub.

It reads the market and events topics with a per-node consumer group that starts at the end when
the process starts, at most once (NOACK: no pending list, no ack round trip per batch): browsers
that missed something resync from a snapshot when they reconnect.
"""

from __future__ import annotations

from actors.base import MailboxActor
from actors.runtime import Runtime
from app.hops import BROADCASTER_READ
from app.messaging.streams import Delivery


class Broadcaster(MailboxActor):
    uses_db = False
    read_hop = BROADCASTER_READ
    start_at_end = True
    noack = True

    def __init__(self, runtime: Runtime) -> None:
        names = runtime.names
        super().__init__(runtime, f"broadcaster-{runtime.settings.node_name}", [names.market, names.events])

    def handle_batch(self, deliveries: list[Delivery]) -> None:
        self.runtime.deliver([d.message for d in deliveries if d.message is not None])
