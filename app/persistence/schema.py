"""Start-up schema work: create missing tables, add columns models gained, adopt AUTOINCREMENT."""

from __future__ import annotations

import logging
from typing import Any

from peewee import Database
from playhouse.migrate import SchemaMigrator, migrate

from app.persistence.autoincrement import adopt_autoincrement
from app.persistence.db import bind_database, db, open_database
from app.persistence.models import ALL_MODELS

log = logging.getLogger(__name__)


def init_database(url: str) -> Database:
    """Bind the proxy to `url`, create any missing tables and bring older ones up to date."""
    database = open_database(url)
    bind_database(database)
    with db.connection_context():
        db.create_tables(ALL_MODELS, safe=True)
        _add_missing_columns(ALL_MODELS)
        adopt_autoincrement(ALL_MODELS)
    return database


def _add_missing_columns(models: list[Any]) -> None:
    """Columns added to a model after its table was created (all nullable) are added in place."""
    for model in models:
        table = model._meta.table_name
        present = {c.name for c in db.get_columns(table)}
        missing = [f for f in model._meta.sorted_fields if f.column_name not in present]
        if missing:
            migrator = SchemaMigrator.from_database(db.obj)
            migrate(*(migrator.add_column(table, f.column_name, f) for f in missing))
            log.info("database: added column(s) %s to %s", ", ".join(f.column_name for f in missing), table)
