"""At most WS_MAX_PER_USER open WebSockets per user, counted in Redis across every web process.

Each open socket is a member of the sorted set `<prefix>:wsconns:<user>`, scored with the end of
its lease in Redis server time. A node renews the leases of its own sockets every LEASE_S / 3 and
removes a socket's member when it closes; a member whose lease has ended no longer counts, so the
sockets of a process that crashed stop counting within LEASE_S, with nobody cleaning up after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
import redis.exceptions as redis_errors

from app.messaging.names import Names
from web.problems import Problem

log = logging.getLogger("troupe.ws")

LEASE_S = 60
_NOW_MS = "local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
# KEYS[1]: the user's set; ARGV: the cap, the lease (ms), the new socket's member. 1 if admitted.
_ACQUIRE = _NOW_MS + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], string.format('%d', now + tonumber(ARGV[2])), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""
# KEYS: one user's set per socket; ARGV: the lease (ms), then each socket's member.
_RENEW = _NOW_MS + """
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], string.format('%d', now + tonumber(ARGV[1])), ARGV[i + 1])
  redis.call('PEXPIRE', KEYS[i], ARGV[1])
end
return #KEYS
"""


class SocketSlots:
    def __init__(self, redis: aioredis.Redis, names: Names, node: str, max_per_user: int) -> None:
        self._redis, self._names, self._node, self.max_per_user = redis, names, node, max_per_user
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._held: dict[str, int] = {}  # member -> user id, for this node's open sockets

    @contextlib.asynccontextmanager
    async def hold(self, user_id: int) -> AsyncIterator[None]:
        """A slot for one socket while the block runs; 429 (before any upgrade) when the user has none left."""
        member = f"{self._node}:{secrets.token_hex(8)}"
        key = self._names.ws_sockets(user_id)
        if not await self._acquire(keys=[key], args=[self.max_per_user, LEASE_S * 1000, member]):
            raise Problem(429, f"at most {self.max_per_user} open WebSockets per user; close one and reconnect",
                          code="TOO_MANY_REQUESTS", headers={"Retry-After": "5"})
        self._held[member] = user_id
        try:
            yield
        finally:
            del self._held[member]
            try:
                await self._redis.zrem(key, member)
            except (redis_errors.ConnectionError, redis_errors.TimeoutError) as exc:  # its lease ends anyway
                log.debug("could not release a WebSocket slot of user %s: %s", user_id, exc)

    async def renew(self) -> None:
        """Extend the lease of every socket open on this node (one round trip)."""
        held = list(self._held.items())
        if held:
            await self._renew(keys=[self._names.ws_sockets(uid) for _, uid in held],
                              args=[LEASE_S * 1000, *(member for member, _ in held)])

    async def renew_forever(self) -> None:
        """Keep this node's sockets counted; run as a task for the life of the app."""
        while True:
            await asyncio.sleep(LEASE_S / 3)
            try:
                await self.renew()
            except (redis_errors.ConnectionError, redis_errors.TimeoutError) as exc:
                log.warning("could not renew the WebSocket slots of this node (retrying): %s", exc)
