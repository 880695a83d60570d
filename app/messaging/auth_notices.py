"""Notices that a session, or every session of an account, has ended: published on a Redis channel.

The database already holds the revocation when a notice goes out; the notice only tells every web
process to drop what it cached and close the WebSockets concerned. A process that may have missed
notices (its subscription dropped) forgets its whole cache instead, so nothing depends on delivery.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import redis
import redis.asyncio as aioredis

from app.api_keys import key_id_of_sid, key_sid


@dataclass(frozen=True, slots=True)
class AuthNotice:
    """Exactly one of `sid` (one session, or one API key, ended) or `user_id` (every session of the account)."""

    sid: str | None = None
    user_id: int | None = None
    reason: str = "signed out"

    @property
    def key_id(self) -> int | None:
        """The API key this notice revokes: a key's notice names its pseudo-session (app/api_keys.key_sid),
        so the session cache and the WebSocket hub treat it like any session that ended."""
        return key_id_of_sid(self.sid)

    def encode(self) -> str:
        return json.dumps({"sid": self.sid, "user": self.user_id, "reason": self.reason}, separators=(",", ":"))


def decode(raw: bytes | str) -> AuthNotice | None:
    """A notice, or None for anything malformed (never raises: a bad publisher must not stop the listener)."""
    try:
        data = json.loads(raw)
        sid, user, reason = data.get("sid"), data.get("user"), data.get("reason", "signed out")
    except (ValueError, AttributeError, TypeError):
        return None
    if (sid is None) == (user is None) or not isinstance(reason, str):
        return None
    if sid is not None and not isinstance(sid, str):
        return None
    if user is not None and (not isinstance(user, int) or isinstance(user, bool)):
        return None
    return AuthNotice(sid, user, reason[:100])


def key_revoked(key_id: int) -> AuthNotice:
    """The notice that an API key was revoked: every process drops it and closes its WebSockets."""
    return AuthNotice(sid=key_sid(key_id), reason="API key revoked")


async def publish(client: aioredis.Redis, channel: str, notice: AuthNotice) -> None:
    await client.publish(channel, notice.encode())


def publish_sync(redis_url: str, channel: str, notice: AuthNotice) -> int:
    """For tools outside the web process (an operator's CLI disabling an account): how many
    subscribers (web processes) received it."""
    client = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
    try:
        return int(client.publish(channel, notice.encode()))
    finally:
        client.close()
