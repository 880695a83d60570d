"""Sign-in sessions: the one place that reads and writes `user_session`, its refresh tokens
(`refresh_token`), a user's disabled mark and password hash.

The database is the record of which sessions are alive; web processes cache the answer
(web/auth_guard.py) and learn of revocations through a Redis channel (app/messaging/auth_notices.py).
A session lives at most its absolute lifetime (`expires_at`) and ends when not renewed for the idle
timeout; its last renewal is the creation time of its newest refresh token.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import Enum

from peewee import JOIN, fn

from app.persistence.db import write_transaction
from app.persistence.models import RefreshToken, User, UserSession, now_ms

KINDS = ("browser", "api")


@dataclass(frozen=True, slots=True)
class SessionState:
    """What a web process needs to accept a token of this session, read in one query."""

    sid: str
    user_id: int
    token_version: int
    expires_at: int  # epoch ms
    alive: bool  # not revoked, and its user exists and is not disabled


def open_session(user_id: int, kind: str, ttl_s: int, ip: str | None, user_agent: str | None,
                 refresh_hash: str | None = None) -> SessionState:
    """A new session living at most `ttl_s`; with `refresh_hash`, its first refresh token too."""
    assert kind in KINDS
    sid = secrets.token_urlsafe(18)  # 144 bits
    created = now_ms()
    with write_transaction():
        UserSession.insert(id=sid, user_id=user_id, kind=kind, created_at=created, expires_at=created + ttl_s * 1000,
                           ip=(ip or None) and ip[:64], user_agent=(user_agent or None) and user_agent[:256]).execute()
        if refresh_hash is not None:
            RefreshToken.insert(token_hash=refresh_hash, sid=sid, user_id=user_id, created_at=created).execute()
        version = User.select(User.token_version).where(User.id == user_id).scalar()
    return SessionState(sid, user_id, version or 0, created + ttl_s * 1000, True)


class RenewOutcome(Enum):
    RENEWED = "renewed"
    UNKNOWN = "unknown"  # no such token (or pruned long ago)
    ENDED = "ended"  # its session is over: revoked, past its lifetime, idle too long, account disabled
    RACED = "raced"  # rotated at this very moment by a concurrent renewal with the same token
    REUSED = "reused"  # a rotated token came back: stolen; its session is now revoked


@dataclass(frozen=True, slots=True)
class Renewal:
    outcome: RenewOutcome
    state: SessionState | None = None  # RENEWED: the session; REUSED/ENDED: what it was


def renew_session(old_hash: str, new_hash: str, idle_ms: int) -> Renewal:
    """Rotate a refresh token: mark `old_hash` used and store `new_hash` as the session's newest.

    A token used before is a copy (the browser serialises its renewals across tabs): presented again,
    it revokes the whole session.
    """
    now = now_ms()
    with write_transaction():
        token = RefreshToken.get_or_none(RefreshToken.token_hash == old_hash)
        if token is None:
            return Renewal(RenewOutcome.UNKNOWN)
        state = session_state(token.sid)
        if state is None:
            return Renewal(RenewOutcome.UNKNOWN)
        if token.used_at is not None:
            UserSession.update(revoked_at=now).where(
                (UserSession.id == token.sid) & UserSession.revoked_at.is_null()).execute()
            return Renewal(RenewOutcome.REUSED, state)
        if not state.alive or now >= state.expires_at or now - token.created_at >= idle_ms:
            return Renewal(RenewOutcome.ENDED, state)
        if not RefreshToken.update(used_at=now).where(
                (RefreshToken.token_hash == old_hash) & RefreshToken.used_at.is_null()).execute():
            return Renewal(RenewOutcome.RACED, state)  # another renewal took it between our read and write
        RefreshToken.insert(token_hash=new_hash, sid=token.sid, user_id=token.user_id, created_at=now).execute()
        RefreshToken.delete().where((RefreshToken.sid == token.sid) & (RefreshToken.used_at < now - idle_ms)).execute()
    return Renewal(RenewOutcome.RENEWED, state)


@dataclass(frozen=True, slots=True)
class SessionRow:
    """A live session as its owner's session list shows it."""

    sid: str
    kind: str
    created_at: int
    last_seen_at: int
    expires_at: int
    ip: str | None
    user_agent: str | None


def live_sessions(user_id: int, idle_ms: int) -> list[SessionRow]:
    """The user's sessions that are still alive, most recently renewed first."""
    now = now_ms()
    rows = list(UserSession.select().where((UserSession.user_id == user_id) & UserSession.revoked_at.is_null()
                                           & (UserSession.expires_at > now)))
    seen = dict(RefreshToken.select(RefreshToken.sid, fn.MAX(RefreshToken.created_at))
                .where(RefreshToken.sid.in_([r.id for r in rows])).group_by(RefreshToken.sid).tuples()) if rows else {}
    found = [SessionRow(r.id, r.kind, r.created_at, seen.get(r.id) or r.created_at, r.expires_at, r.ip, r.user_agent)
             for r in rows]
    return sorted((s for s in found if now - s.last_seen_at < idle_ms), key=lambda s: (-s.last_seen_at, s.sid))


def revoke_users_session(user_id: int, sid: str) -> bool:
    """End one of this user's own sessions; False if it is not theirs or already over."""
    with write_transaction():
        return bool(UserSession.update(revoked_at=now_ms()).where(
            (UserSession.id == sid) & (UserSession.user_id == user_id) & UserSession.revoked_at.is_null()).execute())


def revoke_other_sessions(user_id: int, keep_sid: str | None) -> list[str]:
    """End every live session of the user but `keep_sid`; the ids of those ended."""
    with write_transaction():
        return _revoke_others(user_id, keep_sid)


def _revoke_others(user_id: int, keep_sid: str | None) -> list[str]:
    now = now_ms()
    query = (UserSession.user_id == user_id) & UserSession.revoked_at.is_null() & (UserSession.expires_at > now)
    if keep_sid is not None:
        query &= UserSession.id != keep_sid
    sids = [sid for (sid,) in UserSession.select(UserSession.id).where(query).tuples()]
    if sids:
        UserSession.update(revoked_at=now).where(UserSession.id.in_(sids)).execute()
    return sids


def password_hash_of(user_id: int) -> str | None:
    return User.select(User.password_hash).where(User.id == user_id).scalar()


def change_password(user_id: int, new_hash: str, keep_sid: str) -> list[str]:
    """Store the new hash and end every other session, in one transaction; the ids of those ended."""
    with write_transaction():
        User.update(password_hash=new_hash).where(User.id == user_id).execute()
        return _revoke_others(user_id, keep_sid)


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
