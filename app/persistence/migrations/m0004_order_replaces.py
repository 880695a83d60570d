"""Migration 4: `order.replaces_order_id`, the order an amend (`POST /api/trading/orders/{id}/replace`) replaces.

The executor reads it when it submits the new order: it cancels the old one in the same transaction, or
rejects the new one if the old can no longer be canceled. It is on the row (not only in the command) so that
the Gateway's start-up re-enqueueing of PENDING orders replays a replace as a replace, never as a plain order.
"""

from __future__ import annotations

from peewee import IntegerField
from playhouse.migrate import SchemaMigrator, migrate

from app.persistence.db import db

NAME = "order_replaces"


def apply() -> None:
    if "replaces_order_id" not in {c.name for c in db.get_columns("order")}:
        migrate(SchemaMigrator.from_database(db.obj).add_column("order", "replaces_order_id",
                                                                IntegerField(null=True)))
