"""Settings the stored data is laid out by: pinned once, read back on every start (`app/deployment.py`)."""

from __future__ import annotations

from app.persistence.db import db, write_transaction
from app.persistence.models import DeploymentFact, User


def pin(name: str, value: str) -> str:
    """The value `name` is pinned to: `value` if nothing was pinned yet (it is pinned now, once, even when
    nodes start together), else what the first start pinned."""
    with write_transaction():
        DeploymentFact.insert(name=name, value=value).on_conflict_ignore().execute()
        return str(DeploymentFact.get_by_id(name).value)


def pinned(name: str) -> str | None:
    """What `name` is pinned to; None before the first pin, or before migration 5 made the table."""
    if not db.table_exists(DeploymentFact._meta.table_name):
        return None
    row = DeploymentFact.get_or_none(DeploymentFact.name == name)
    return None if row is None else str(row.value)


def has_accounts() -> bool:
    """Whether any account exists (False for a new database, whose tables may not exist yet)."""
    return db.table_exists(User._meta.table_name) and User.select().exists()
