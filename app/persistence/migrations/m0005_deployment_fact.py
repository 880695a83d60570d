"""Migration 5: `deployment_fact`, settings the stored data is laid out by, pinned at the first start.

Accounts belong to executor shard `user_id % EXECUTOR_SHARDS`, each shard books against house accounts of
its own and numbers CFD positions by the count: a start with another count would hand accounts to shards
that do not own them. A database from before this migration is pinned to the count of its first start
after it: EXECUTOR_SHARDS if set, else 2, the default it ran with (`app/deployment.data_shards`).
"""

from __future__ import annotations

from peewee import CharField, Model

from app.persistence.db import db

NAME = "deployment_fact"


class DeploymentFact(Model):
    name = CharField(primary_key=True, max_length=64)
    value = CharField(max_length=200)

    class Meta:
        database = db
        table_name = "deployment_fact"


def apply() -> None:
    db.create_tables([DeploymentFact], safe=True)
