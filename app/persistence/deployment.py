"""Settings the stored data is laid out by: pinned once, read back on every start (`app/deployment.py`)."""

from __future__ import annotations

from app.persistence.db import write_transaction
from app.persistence.models import DeploymentFact


def pin(name: str, value: str) -> str:
    """The value `name` is pinned to: `value` if nothing was pinned yet (it is pinned now, once, even when
    nodes start together), else what the first start pinned."""
    with write_transaction():
        DeploymentFact.insert(name=name, value=value).on_conflict_ignore().execute()
        return str(DeploymentFact.get_by_id(name).value)
