"""API keys for bots: the one place that reads and writes `api_key`.

The key itself is never stored, only its SHA-256 (`key_hash`, to find it) and its last four
characters; the secret is stored sealed (the caller seals it with the vault, bound to the user and
this row's id, so the row is inserted first and sealed in the same transaction).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from peewee import JOIN, SqliteDatabase

from app.persistence.db import db, write_transaction
from app.persistence.models import ApiKey, User, now_ms

SEEN_IPS_KEPT = 20


class TooManyKeys(Exception):
    """The user already has the most live keys allowed."""


@dataclass(frozen=True, slots=True)
class KeyRow:
    """A live or dead key as verification needs it, with its user's state, read in one query."""

    id: int
    user_id: int
    key_hash: str
    secret_enc: bytes
    permissions: str
    ip_allowlist: str
    expires_at: int | None
    alive: bool  # not revoked, and its user exists and is not disabled


@dataclass(frozen=True, slots=True)
class KeyListing:
    """What the owner may see again of a key (never the key or its secret)."""

    id: int
    label: str
    permissions: str
    last4: str
    ip_allowlist: str
    created_at: int
    expires_at: int | None
    last_used_at: int | None
    last_used_ip: str | None


def create_key(user_id: int, key_hash: str, last4: str, label: str, permissions: str, ip_allowlist: str,
               expires_at: int | None, seal: Callable[[int], bytes], max_keys: int) -> int:
    """Insert a key and seal its secret with its new id; refuses past `max_keys` live keys."""
    with write_transaction():
        if not isinstance(db.obj, SqliteDatabase):  # SQLite has one writer; PostgreSQL queues on the user's row
            User.select(User.id).where(User.id == user_id).for_update().execute()
        live = ApiKey.select().where((ApiKey.user_id == user_id) & ApiKey.revoked_at.is_null()).count()
        if live >= max_keys:
            raise TooManyKeys(max_keys)
        key_id = ApiKey.insert(user_id=user_id, key_hash=key_hash, key_last4=last4, secret_enc=b"", label=label,
                               permissions=permissions, ip_allowlist=ip_allowlist, created_at=now_ms(),
                               expires_at=expires_at).execute()
        ApiKey.update(secret_enc=seal(int(key_id))).where(ApiKey.id == key_id).execute()
    return int(key_id)


def _row(where: object) -> KeyRow | None:
    row = (ApiKey
           .select(ApiKey.id, ApiKey.user_id, ApiKey.key_hash, ApiKey.secret_enc, ApiKey.permissions,
                   ApiKey.ip_allowlist, ApiKey.expires_at, ApiKey.revoked_at, User.id.alias("uid"), User.disabled_at)
           .join(User, on=(User.id == ApiKey.user_id), join_type=JOIN.LEFT_OUTER)
           .where(where).dicts().first())
    if row is None:
        return None
    alive = row["revoked_at"] is None and row["uid"] is not None and row["disabled_at"] is None
    return KeyRow(row["id"], row["user_id"], row["key_hash"], bytes(row["secret_enc"]), row["permissions"],
                  row["ip_allowlist"], row["expires_at"], alive)


def key_by_hash(key_hash: str) -> KeyRow | None:
    return _row(ApiKey.key_hash == key_hash)


def key_by_id(key_id: int) -> KeyRow | None:
    return _row(ApiKey.id == key_id)


def list_keys(user_id: int) -> list[KeyListing]:
    """The user's live keys, oldest first."""
    rows = (ApiKey.select().where((ApiKey.user_id == user_id) & ApiKey.revoked_at.is_null()).order_by(ApiKey.id))
    return [KeyListing(r.id, r.label, r.permissions, r.key_last4, r.ip_allowlist, r.created_at, r.expires_at,
                       r.last_used_at, r.last_used_ip) for r in rows]


def revoke_key(user_id: int, key_id: int) -> bool:
    """End one of the user's live keys and wipe its sealed secret; False if there is no such key."""
    with write_transaction():
        return bool(ApiKey.update(revoked_at=now_ms(), secret_enc=b"")
                    .where((ApiKey.id == key_id) & (ApiKey.user_id == user_id) & ApiKey.revoked_at.is_null())
                    .execute())


def touch_key(key_id: int, ip: str, at: int) -> bool:
    """Record a use (when and from where); True if the address is new for this key."""
    with write_transaction():
        row = ApiKey.get_or_none(ApiKey.id == key_id)
        if row is None:
            return False
        seen = [a for a in (row.seen_ips or "").split(",") if a]
        new = ip not in seen
        if new:
            seen = [*seen, ip[:64]][-SEEN_IPS_KEPT:]
        ApiKey.update(last_used_at=at, last_used_ip=ip[:64], seen_ips=",".join(seen)).where(
            ApiKey.id == key_id).execute()
    return new


# The vault's associated data of an API key's secret: (user id, VAULT_DOMAIN, "key:<id>"), as
# web/api_key_auth.py seals and opens it (a test keeps the two equal).
VAULT_DOMAIN = "troupe-api-key"


def reseal_api_key_secrets(reseal: Callable[[bytes, int, str, str], bytes]) -> int:
    """Key rotation: replace every live key's sealed secret by `reseal(blob, user_id, VAULT_DOMAIN,
    "key:<id>")` (revoked keys hold none); the caller holds the write transaction. Returns the count."""
    count = 0
    for row in ApiKey.select(ApiKey.id, ApiKey.user_id, ApiKey.secret_enc).where(ApiKey.secret_enc != b""):
        blob = reseal(bytes(row.secret_enc), int(row.user_id), VAULT_DOMAIN, f"key:{row.id}")
        ApiKey.update(secret_enc=blob).where(ApiKey.id == row.id).execute()
        count += 1
    return count
