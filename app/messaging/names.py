"""Every Redis key Troupe uses, in one place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Names:
    prefix: str

    @property
    def gateway(self) -> str:
        return f"{self.prefix}:mbox:gateway"

    def executor(self, shard: int) -> str:
        return f"{self.prefix}:mbox:executor:{shard}"

    @property
    def market(self) -> str:
        """Ticks and candle updates (trimmed: the newest price supersedes older ones)."""
        return f"{self.prefix}:topic:market"

    @property
    def events(self) -> str:
        """Per-user events for browsers (trimmed: reconnecting clients resync from a snapshot)."""
        return f"{self.prefix}:topic:events"

    def reply(self, node: str) -> str:
        return f"{self.prefix}:reply:{node}"

    @property
    def dead_letters(self) -> str:
        return f"{self.prefix}:dlq"

    @property
    def prices(self) -> str:
        """Hash: symbol -> latest PriceTick (encoded)."""
        return f"{self.prefix}:prices"

    @property
    def stale(self) -> str:
        """Hash: symbol -> ms since when its live market data has been silent (absent: fresh)."""
        return f"{self.prefix}:stale"

    def candles(self, symbol: str, interval: str) -> str:
        return f"{self.prefix}:candles:{symbol}:{interval}"

    def book(self, symbol: str) -> str:
        """String: the symbol's published book as JSON (lastUpdateId, bids, asks), for the depth API."""
        return f"{self.prefix}:book:{symbol}"

    @property
    def market_folded(self) -> str:
        """String: the last `topic:events` entry whose fills the PriceFeed took into its books and tape."""
        return f"{self.prefix}:market:folded"

    def tape(self, symbol: str) -> str:
        """List: the symbol's latest trade prints as JSON, oldest first."""
        return f"{self.prefix}:tape:{symbol}"

    def shard_lease(self, shard: int) -> str:
        """Held by the one node whose executor owns the shard (its accounts' single writer)."""
        return f"{self.prefix}:lease:executor:{shard}"

    @property
    def auth_notices(self) -> str:
        """Pub/sub channel: a session or a whole account was ended (every web process listens)."""
        return f"{self.prefix}:auth-notices"

    def ws_ticket(self, ticket: str) -> str:
        return f"{self.prefix}:wsticket:{ticket}"

    def limit(self, bucket: str) -> str:
        """A rate-limit bucket (web/ratelimit.py); it expires when the bucket is full again."""
        return f"{self.prefix}:limit:{bucket}"

    def ws_sockets(self, user_id: int) -> str:
        """Sorted set: this user's open WebSockets (member per socket, scored by its lease's end)."""
        return f"{self.prefix}:wsconns:{user_id}"


def shard_of(user_id: int, shards: int) -> int:
    """Every account has exactly one executor shard: its single writer."""
    return user_id % shards
