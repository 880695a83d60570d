"""Migration 2: `master_key_seal`, the fingerprint of the MASTER_KEY that sealed the stored secrets.

`troupe keys rotate-master` re-seals every secret and records the new key's fingerprint in the same
transaction, so a rotation interrupted between that commit and the swap of the key files is told
apart from one that never committed (app/security/rotation.py).
"""

from __future__ import annotations

from peewee import BigIntegerField, CharField, IntegerField, Model

from app.persistence.db import db

NAME = "master_key_seal"


class MasterKeySeal(Model):
    id = IntegerField(primary_key=True)  # always 1: one row
    fingerprint = CharField(max_length=64)
    sealed_at = BigIntegerField()

    class Meta:
        database = db
        table_name = "master_key_seal"


def apply() -> None:
    db.create_tables([MasterKeySeal], safe=True)
