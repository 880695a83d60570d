"""The security activity log: one row per sign-in, failed sign-in, refresh-token reuse, password
change, revoked session or sign-out everywhere, which its user can read back, and one INFO log line
each. Nothing secret is ever passed in: callers give addresses, user agents and short details only.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from app.persistence.db import write_transaction
from app.persistence.models import SecurityEvent, now_ms

log = logging.getLogger("troupe.security")

KINDS = frozenset({"sign_in", "sign_in_failed", "refresh_reuse", "password_changed", "session_revoked",
                   "logout_all", "key_created", "key_used_from_new_address", "key_revoked"})


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    kind: str
    created_at: int
    ip: str | None
    user_agent: str | None
    detail: dict[str, str]


def record(user_id: int | None, kind: str, *, ip: str | None, user_agent: str | None,
           detail: dict[str, str] | None = None) -> None:
    """Write the row and log one INFO line (the user agent is in the row only: it is the caller's text)."""
    assert kind in KINDS, kind
    clean = {str(k)[:40]: str(v)[:200] for k, v in (detail or {}).items()}
    with write_transaction():
        SecurityEvent.insert(user_id=user_id, kind=kind, created_at=now_ms(), ip=(ip or None) and ip[:64],
                             user_agent=(user_agent or None) and user_agent[:256],
                             detail=json.dumps(clean, sort_keys=True) if clean else None).execute()
    log.info("security: %s user=%s ip=%s%s", kind, user_id, ip,
             "".join(f" {k}={json.dumps(v)}" for k, v in sorted(clean.items())))


def signed_in_from(user_id: int, ip: str) -> bool:
    """Has this user signed in from this address before?"""
    return SecurityEvent.select().where((SecurityEvent.user_id == user_id) & (SecurityEvent.kind == "sign_in")
                                        & (SecurityEvent.ip == ip[:64])).exists()


def events(user_id: int, limit: int, before_id: int | None = None) -> tuple[list[Event], int | None]:
    """A page of the user's events, newest first, and the cursor of the next page (None: no more)."""
    query = SecurityEvent.select().where(SecurityEvent.user_id == user_id)
    if before_id is not None:
        query = query.where(SecurityEvent.id < before_id)
    rows = list(query.order_by(SecurityEvent.id.desc()).limit(limit + 1))
    page = [Event(r.id, r.kind, r.created_at, r.ip, r.user_agent, json.loads(r.detail) if r.detail else {})
            for r in rows[:limit]]
    return page, (page[-1].id if len(rows) > limit else None)
