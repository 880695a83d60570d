"""The executor shard count is a property of the data, not only a setting.

Each account belongs to shard `user_id % EXECUTOR_SHARDS`: its balances have that shard as their one writer,
the shard books against house accounts of its own, and CFD position ids are numbered by the count. The first
start pins the count in the database; a later start (any node, any role) with another count is refused
with the count to use, instead of handing accounts to shards that do not own them.
"""

from __future__ import annotations

from app.persistence.deployment import pin
from settings import ConfigError

SHARDS = "executor_shards"


def check_executor_shards(shards: int) -> None:
    """Pin the count on a database that has none yet; ConfigError if it was pinned to another."""
    pinned = int(pin(SHARDS, str(shards)))
    if pinned != shards:
        raise ConfigError(
            f"EXECUTOR_SHARDS is {shards}, but this database's accounts are sharded by {pinned}: set "
            f"EXECUTOR_SHARDS={pinned} (each account's balances, orders and CFD position ids belong to shard "
            f"user_id % {pinned}; another count would hand them to shards that do not own them)")
