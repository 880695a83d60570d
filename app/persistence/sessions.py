"""Sign-in sessions: the one place that reads and writes `user_session` (and a user's disabled mark).

The database is the record of which sessions are alive; web processes cache the answer
(web/auth_guard.py) and learn of revocations through a Redis channel (app/messaging/auth_notices.py).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from peewee import JOIN

from app.persistence.db import write_transaction
from app.persistence.models import User, UserSession, now_ms

KINDS = ("browser", "api")


@dataclass(frozen=True, slots=True)
class SessionState:
    """What a web process needs to accept a token of this session, read in one query."""

    sid: str
    user_id: int
    token_version: int
    expires_at: int  # epoch ms
    alive: bool  # not revoked, and its user exists and is not disabled


def open_session(user_id: int, kind: str, ttl_s: int, ip: str | None, user_agent: str | None) -> SessionState:
    assert kind in KINDS
    sid = secrets.token_urlsafe(18)  # 144 bits
    created = now_ms()
    with write_transaction():
        UserSession.insert(id=sid, user_id=user_id, kind=kind, created_at=created, expires_at=created + ttl_s * 1000,
                           ip=(ip or None) and ip[:64], user_agent=(user_agent or None) and user_agent[:256]).execute()
        version = User.select(User.token_version).where(User.id == user_id).scalar()
    return SessionState(sid, user_id, version or 0, created + ttl_s * 1000, True)


def session_state(sid: str) -> SessionState | None:
    """The session with its user's state, or None if there is no such session."""
    row = (UserSession
           .select(UserSession.id, UserSession.user_id, UserSession.expires_at, UserSession.revoked_at,
                   User.id.alias("uid"), User.token_version, User.disabled_at)
           .join(User, on=(User.id == UserSession.user_id), join_type=JOIN.LEFT_OUTER)
           .where(UserSession.id == sid).dicts().first())
    if row is None:
        return None
    alive = row["revoked_at"] is None and row["uid"] is not None and row["disabled_at"] is None
    return SessionState(row["id"], row["user_id"], row["token_version"] or 0, row["expires_at"], alive)


def revoke_session(sid: str) -> int | None:
    """End one session; returns its user's id (None if there was no such live session)."""
    with write_transaction():
        row = UserSession.get_or_none((UserSession.id == sid) & UserSession.revoked_at.is_null())
        if row is None:
            return None
        UserSession.update(revoked_at=now_ms()).where(UserSession.id == sid).execute()
        return int(row.user_id)


def disable_user(user_id: int) -> bool:
    """Disable an account and end every session of it; False if there is no such enabled user."""
    with write_transaction():
        changed = User.update(disabled_at=now_ms()).where((User.id == user_id) & User.disabled_at.is_null()).execute()
        UserSession.update(revoked_at=now_ms()).where(
            (UserSession.user_id == user_id) & UserSession.revoked_at.is_null()).execute()
    return bool(changed)
