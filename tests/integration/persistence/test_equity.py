"""Equity points in the database (SQLite and PostgreSQL): a range comes back in time order, the point
before a range opens it, and thinning keeps the last point of each hour and every reset's, per user and
only for the shard's users."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from app.history import Point
from app.persistence.db import db, write_transaction
from app.persistence.equity import add_points, last_point_before, points, thin_points
from app.persistence.schema import init_database

HOUR = 3_600_000


@pytest.fixture
def database(database_url: str) -> Iterator[None]:
    init_database(database_url)
    yield
    db.close()


def test_points_thin_to_the_last_of_each_hour_keeping_resets(database: None) -> None:
    rows = []
    for uid in (2, 3, 4):  # users 2 and 4 are shard 0 of 2; user 3 is shard 1
        for minute in range(0, 180, 30):  # 0:00 .. 2:30, six points over three hours
            reason = "RESET" if minute == 60 else "MINUTE"
            rows.append((uid, minute * 60_000, Decimal(1000 + minute) + Decimal("0.00000001"), Decimal(0), reason))
    with write_transaction():
        add_points(rows)
    assert [p.at // 60_000 for p in points(2, 0, 10 * HOUR)] == [0, 30, 60, 90, 120, 150]
    assert last_point_before(2, 60 * 60_000) == Point(30 * 60_000, Decimal("1030.00000001"), Decimal(0), "MINUTE")
    with write_transaction():
        gone = thin_points(0, 2, 2 * HOUR, HOUR)  # the first two hours of shard 0's users
    assert gone == 2, "per user: 0:00 (0:30 is the last of its hour; 1:00 is a reset, 1:30 the last)"
    for uid in (2, 4):
        assert [(p.at // 60_000, p.reason) for p in points(uid, 0, 10 * HOUR)] == [
            (30, "MINUTE"), (60, "RESET"), (90, "MINUTE"), (120, "MINUTE"), (150, "MINUTE")]
    assert len(points(3, 0, 10 * HOUR)) == 6, "another shard's users are not its to thin"
