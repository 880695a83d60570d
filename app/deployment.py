"""The executor shard count is a property of the data, not only a setting.

Each account belongs to shard `user_id % EXECUTOR_SHARDS`: its balances have that shard as their one writer,
the shard books against house accounts of its own, and CFD position ids are numbered by the count. The first
start pins the count in the database; a later start (any node, any role) with another count is refused
with the count to use, instead of handing accounts to shards that do not own them. Without
EXECUTOR_SHARDS the data decides (`data_shards`), so a new database starts with one shard.
"""

from __future__ import annotations

from app.persistence.deployment import has_accounts, pin, pinned
from settings import ConfigError, Settings

SHARDS = "executor_shards"
NEW_DATABASE_SHARDS = 1  # one executor thread fewer on the interpreter lock: lower latency in one process
LEGACY_SHARDS = 2  # the default before the count was pinned: what an unpinned database with accounts used


def data_shards() -> int:
    """The count to run with when EXECUTOR_SHARDS is unset (read on the bound, connected database): the
    pinned one; for a database from before the pin that has accounts, the old default; else one."""
    value = pinned(SHARDS)
    if value is not None:
        return int(value)
    return LEGACY_SHARDS if has_accounts() else NEW_DATABASE_SHARDS


def check_executor_shards(shards: int) -> None:
    """Pin the count on a database that has none yet; ConfigError if it was pinned to another."""
    stored = int(pin(SHARDS, str(shards)))
    if stored != shards:
        raise ConfigError(
            f"EXECUTOR_SHARDS is {shards}, but this database's accounts are sharded by {stored}: set "
            f"EXECUTOR_SHARDS={stored} (each account's balances, orders and CFD position ids belong to shard "
            f"user_id % {stored}; another count would hand them to shards that do not own them)")


def shard_count(settings: Settings) -> int:
    """The count a node runs with: EXECUTOR_SHARDS, or unset what the data says (bound, connected database)."""
    return data_shards() if settings.shards_from_data else settings.executor_shards
