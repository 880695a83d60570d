"""Migration 3: `order.api_key_id`, the API key an order was placed through on the Binance-compatible API.

The column landed on main while migrations were being written, so a database made in between already
has it: it is added only where it is missing.
"""

from __future__ import annotations

from peewee import IntegerField
from playhouse.migrate import SchemaMigrator, migrate

from app.persistence.db import db

NAME = "order_api_key_id"


def apply() -> None:
    if "api_key_id" not in {c.name for c in db.get_columns("order")}:
        migrate(SchemaMigrator.from_database(db.obj).add_column("order", "api_key_id", IntegerField(null=True)))
