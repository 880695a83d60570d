"""Is this token's session still alive? Answered from memory, with no database query per request.

Each web process caches the state of the sessions it has seen (loaded from the database once,
then kept for AUTH_CACHE_SECONDS). When a session or a whole account ends, the process that ended
it drops its own entry at once and publishes a notice on a Redis channel; every other process
drops its entry on the notice and closes the WebSockets concerned. If the subscription drops, a
process cannot know what it missed, so it forgets everything it cached and reloads on demand. The
cache lifetime bounds how long a change made behind Troupe's back (a row deleted by hand) can go
unseen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from app.messaging.auth_notices import AuthNotice, decode, publish
from app.persistence.sessions import SessionState
from app.security.tokens import Claims

log = logging.getLogger("troupe.auth")

Loader = Callable[[str], Awaitable[SessionState | None]]


class SessionEnded(Exception):
    """The token is genuine but its session is over (signed out, account disabled or gone)."""


class AuthGuard:
    def __init__(self, redis_url: str, channel: str, load: Loader, on_notice: Callable[[AuthNotice], None],
                 ttl_s: float, max_entries: int = 100_000) -> None:
        self.redis_url = redis_url
        self.channel = channel
        self._load = load
        self._on_notice = on_notice
        self._ttl_s = ttl_s
        self._max = max_entries
        self._cache: dict[str, tuple[SessionState, float]] = {}
        self._epoch = 0  # bumped by every notice: a load that overlapped one is not cached
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self.loads = 0  # database reads so far (observability; tests check the cache works)
        # Other caches of credentials (web/api_key_auth.py): told every notice, or None for "forget all".
        self.listeners: list[Callable[[AuthNotice | None], None]] = []

    # --- checking -------------------------------------------------------------------------------

    async def check(self, claims: Claims) -> SessionState:
        state = await self._state(claims.sid)
        if state is None or not state.alive or state.user_id != claims.user_id \
                or state.token_version != claims.token_version:
            raise SessionEnded(claims.sid)
        return state

    async def _state(self, sid: str) -> SessionState | None:
        hit = self._cache.get(sid)
        if hit is not None and time.monotonic() < hit[1]:
            return hit[0]
        epoch = self._epoch
        self.loads += 1
        state = await self._load(sid)
        if state is not None and epoch == self._epoch:
            self._remember(state)
        return state

    def remember(self, state: SessionState) -> None:
        """A session this process just opened: no need to read it back."""
        self._remember(state)

    def _remember(self, state: SessionState) -> None:
        self._cache.pop(state.sid, None)
        if len(self._cache) >= self._max:  # oldest first (insertion order); a miss only costs a read
            for sid in list(self._cache)[: self._max // 10]:
                del self._cache[sid]
        self._cache[state.sid] = (state, time.monotonic() + self._ttl_s)

    # --- ending sessions --------------------------------------------------------------------------

    async def announce(self, client: aioredis.Redis, notice: AuthNotice) -> None:
        """After the database holds the change: apply it here at once, then tell every process."""
        self._apply(notice)
        try:
            await publish(client, self.channel, notice)
        except (aioredis.ConnectionError, aioredis.TimeoutError) as exc:
            # The change is committed; the other processes, cut off from the channel too, are
            # clearing their caches until it returns, so they reload it from the database.
            log.warning("auth notices: could not publish %s: %s", notice, exc)

    def _apply(self, notice: AuthNotice) -> None:
        self._epoch += 1
        if notice.sid is not None:
            self._cache.pop(notice.sid, None)
        else:
            for sid in [s for s, (state, _) in self._cache.items() if state.user_id == notice.user_id]:
                del self._cache[sid]
        self._on_notice(notice)
        for listener in self.listeners:
            listener(notice)

    # --- the subscription -------------------------------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="auth-notices")
        with contextlib.suppress(TimeoutError):  # start anyway; the listener keeps retrying
            await asyncio.wait_for(self._subscribed.wait(), 5)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _listen(self) -> None:
        backoff = 0.05
        while True:
            client = aioredis.Redis.from_url(self.redis_url, socket_timeout=None, socket_connect_timeout=5)
            try:
                async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    if self._subscribed.is_set():  # a gap in the subscription: notices may be lost
                        self._epoch += 1
                        self._cache.clear()
                        for listener in self.listeners:
                            listener(None)
                        log.info("auth notices: subscription restored; session cache cleared")
                    self._subscribed.set()
                    backoff = 0.05
                    async for message in pubsub.listen():
                        if message.get("type") == "message" and (notice := decode(message["data"])) is not None:
                            self._apply(notice)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: keep trying; checks meanwhile use the cache
                log.warning("auth notices: subscription lost (%s); retrying in %.1f s", exc, backoff)
                self._epoch += 1
                self._cache.clear()
                for listener in self.listeners:
                    listener(None)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                await client.aclose()
