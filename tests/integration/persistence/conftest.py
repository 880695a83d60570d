"""Fixtures of the persistence tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.persistence.db import db
from app.persistence.schema import init_database


@pytest.fixture
def migrated(database_url: str) -> Iterator[str]:
    """A database on each backend, migrated to the latest schema."""
    init_database(database_url)
    yield database_url
    db.close()
