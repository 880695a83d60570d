"""What every actor is given at start: settings, stream names, symbols, and shared clients."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from app.domain.symbols import SymbolSpec
from app.messages import Message
from app.messaging.names import Names
from app.messaging.streams import Producer, connect
from app.security.vault import Vault
from settings import Settings


@dataclass
class Runtime:
    settings: Settings
    redis_url: str
    names: Names
    specs: dict[str, SymbolSpec]
    vault: Vault
    # Called from the Broadcaster's thread with each batch of events for this node's browsers.
    deliver: Callable[[list[Message]], None] = lambda messages: None
    # Called when an actor hits an error no restart can heal (e.g. SystemExit in a handler).
    fatal: Callable[[str], None] = lambda reason: None
    _client: redis.Redis | None = field(default=None, repr=False)

    @property
    def redis(self) -> redis.Redis:
        """A pooled synchronous client, shared by actor threads (redis-py pools are thread-safe)."""
        if self._client is None:
            self._client = connect(self.redis_url)
        return self._client

    @property
    def producer(self) -> Producer:
        return Producer(self.redis)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
