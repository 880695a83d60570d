"""The executor shard count the data is laid out by: pinned once, and without EXECUTOR_SHARDS what the data says."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.deployment import LEGACY_SHARDS, NEW_DATABASE_SHARDS, check_executor_shards, data_shards
from app.persistence.db import db
from app.persistence.schema import connect_database, init_database
from settings import ConfigError
from tests.support.helpers import OLD_DATABASE


def test_a_new_database_runs_one_shard_and_pins_it(migrated: str) -> None:
    assert data_shards() == NEW_DATABASE_SHARDS == 1
    check_executor_shards(data_shards())
    with pytest.raises(ConfigError, match="sharded by 1: set EXECUTOR_SHARDS=1"):
        check_executor_shards(2)
    assert data_shards() == 1


def test_the_pinned_count_is_what_the_data_says(migrated: str) -> None:
    check_executor_shards(4)
    assert data_shards() == 4
    check_executor_shards(4)  # the same count again: nothing to refuse


def test_a_database_from_before_the_pin_keeps_the_count_it_ran_with(tmp_path: Path) -> None:
    """The fixture was written by 82e4bfe, which ran two shards by default and knew no pin: its accounts stay
    where they are, and before any migration (the pre-flight reads it as it is) it says the same."""
    path = tmp_path / "troupe.db"
    shutil.copy(OLD_DATABASE, path)
    connect_database(f"sqlite:///{path}")
    try:
        assert data_shards() == LEGACY_SHARDS == 2  # no deployment_fact table yet
    finally:
        db.close()
    init_database(f"sqlite:///{path}")
    try:
        assert data_shards() == 2
        check_executor_shards(data_shards())
        with pytest.raises(ConfigError, match="sharded by 2"):
            check_executor_shards(1)
    finally:
        db.close()
