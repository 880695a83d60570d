"""Which MASTER_KEY sealed the stored secrets: the one row of `master_key_seal` (key rotation)."""

from __future__ import annotations

from app.persistence.db import db
from app.persistence.models import MasterKeySeal, now_ms


def sealed_by() -> str | None:
    """The fingerprint recorded by the last rotation (None: never rotated, or a schema before migration 2)."""
    if not db.table_exists(MasterKeySeal._meta.table_name):
        return None
    row = MasterKeySeal.get_or_none(MasterKeySeal.id == 1)
    return None if row is None else str(row.fingerprint)


def record_sealed_by(fingerprint: str) -> None:
    """Record the key that now seals every secret; in the re-sealing transaction."""
    (MasterKeySeal.insert(id=1, fingerprint=fingerprint, sealed_at=now_ms())
     .on_conflict(conflict_target=[MasterKeySeal.id], update={MasterKeySeal.fingerprint: fingerprint,
                                                              MasterKeySeal.sealed_at: now_ms()})
     .execute())
