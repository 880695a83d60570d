"""ExecutorCore with a fake venue: no actor, no Redis; a real database (SQLite in a temp dir).

The fake venue stands in for the Venue port only (the simulator and Binance are tested through
the real server elsewhere); everything the core writes goes through the real repositories.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from app.domain import execution
from app.domain.book import Quote
from app.domain.execution import Fees, Outcome
from app.domain.ledger import HOUSE_GENESIS, house_of_shard, transfer, user_free
from app.domain.orders import IllegalTransition, OrderStatus
from app.domain.symbols import build_specs
from app.events import Balance, BalancesChanged, OrderUpdated, UserEvent
from app.execution.core import ExecutorCore, OutboxRow
from app.execution.venue import Engine
from app.messages import CancelOrder, EventBatch, PriceTick, SubmitOrder, decode
from app.money import ZERO
from app.persistence.db import db, write_transaction
from app.persistence.exchange import exchange_balances
from app.persistence.ledger import ledger_sums, post_entries
from app.persistence.models import Fill
from app.persistence.orders import insert_order, order_by_id, order_view
from app.persistence.outbox import outbox_pending
from app.persistence.schema import init_database

SPECS = build_specs(("BTCUSDT",))
QUOTE = Quote(Decimal("50000"), Decimal("50010"), 1, Decimal("50005"))
HOUSE = house_of_shard(0)
EVENTS = "test:topic:events"


@dataclass
class FakeVenue:
    """Reports what the test tells it to; records what the core asked of it."""

    atomic: bool = True
    market_data: bool = False
    timer_s: float | None = None
    outcomes: dict[int, Outcome] = field(default_factory=dict)  # order id -> what submit reports
    submitted: list[int] = field(default_factory=list)
    tracked: list[tuple[int, str]] = field(default_factory=list)
    resets: int = 0
    give_up_reason: str | None = None
    balances: list[tuple[str, Decimal, Decimal]] = field(default_factory=list)

    def start(self, ticks: list[PriceTick]) -> None:
        pass

    def reset(self) -> None:
        self.resets += 1

    def submit(self, row: Any, engine: Engine) -> bool:
        self.submitted.append(row.id)
        engine.order(row, self.outcomes[row.id], exchange_order_id=900 + row.id)
        return True

    def cancel(self, row: Any, engine: Engine) -> bool:
        engine.order(row, execution.cancel(order_view(row), SPECS[row.symbol]))
        return True

    def quiet_quote(self, tick: PriceTick) -> bool:
        return True

    def on_quote(self, tick: PriceTick, engine: Engine) -> None:
        pass

    def reconcile(self, engine: Engine) -> None:
        engine.exchange_balances(1, self.balances, 123)

    def track(self, row: Any) -> None:
        self.tracked.append((row.id, row.status))

    def give_up(self, msg: SubmitOrder | CancelOrder) -> str | None:
        return self.give_up_reason

    def close(self) -> None:
        pass


@pytest.fixture
def database(tmp_path: Path) -> Iterator[None]:
    init_database(f"sqlite:///{tmp_path / 'troupe.db'}")
    with write_transaction():
        post_entries([transfer("genesis", "1/USDT", "deposit", "USDT", Decimal(100_000), HOUSE_GENESIS,
                               user_free(1))])
    yield
    db.close()


def _order(**changes: Any) -> Any:
    values: dict[str, Any] = {"user_id": 1, "client_order_id": f"c{changes.get('status', 'PENDING')}",
                              "symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": Decimal("0.5"),
                              "status": "PENDING", "executed_qty": ZERO, "cumm_quote_qty": ZERO, "locked": ZERO,
                              "fill_count": 0, "created_at": 1, "updated_at": 1, "version": 0, "triggered": False}
    values.update(changes)
    with write_transaction():
        order_id = insert_order(values)
    row = order_by_id(order_id)
    assert row is not None
    return row


def _core(venue: FakeVenue, published: list[list[OutboxRow]] | None = None) -> ExecutorCore:
    sink = published if published is not None else []
    return ExecutorCore("executor-0", venue, SPECS, EVENTS, sink.append)


def _fill(row: Any, core: ExecutorCore) -> Outcome:
    return execution.place(order_view(row), QUOTE, SPECS["BTCUSDT"], core.free(1), Fees.flat(Decimal("0.001")), HOUSE)


def _status(event: UserEvent) -> OrderStatus:
    assert isinstance(event, OrderUpdated)
    return event.order.status


def _events(rows: list[OutboxRow]) -> list[UserEvent]:
    out: list[UserEvent] = []
    for _, stream, payload in rows:
        assert stream == EVENTS
        batch = decode(payload)
        assert isinstance(batch, EventBatch)
        out += batch.events
    return out


def _submit(row: Any, n: int = 1) -> SubmitOrder:
    return SubmitOrder(msg_id=f"submit:{row.id}:{n}", order_id=row.id, user_id=row.user_id)


def test_an_atomic_batch_applies_the_report_as_rows_and_events(database: None) -> None:
    venue = FakeVenue()
    core = _core(venue)
    row = _order()
    outcome = venue.outcomes[row.id] = _fill(row, core)
    with write_transaction():
        events = core.begin()
        assert core.command(_submit(row))
        rows = core.outbox(events)
    after = order_by_id(row.id)
    assert after is not None and after.status == "FILLED" and after.version == 1
    assert after.executed_qty == Decimal("0.5") and after.exchange_order_id == 900 + row.id
    assert [f.seq for f in Fill.select().where(Fill.order_id == row.id)] == [f.seq for f in outcome.fills] != []
    per_asset: dict[str, Decimal] = {}
    for (_, asset), total in ledger_sums().items():
        per_asset[asset] = per_asset.get(asset, ZERO) + total
    assert per_asset and all(total == 0 for total in per_asset.values())  # every entry balanced
    kinds = [(e.KIND, e.cause) for e in _events(rows)]
    assert kinds == [("ORDER_UPDATE", f"{row.id}:1"), ("BALANCE_UPDATE", f"{row.id}:1"),
                     ("POSITION_UPDATE", f"{row.id}:1")]
    first = _events(rows)[0]
    assert isinstance(first, OrderUpdated) and first.order.status is OrderStatus.FILLED
    assert venue.tracked == [(row.id, "FILLED")]


def test_a_redelivered_command_is_skipped_by_the_inbox(database: None) -> None:
    venue = FakeVenue()
    core = _core(venue)
    row = _order()
    venue.outcomes[row.id] = _fill(row, core)
    for _ in range(2):
        with write_transaction():
            core.begin()
            assert core.command(_submit(row))
    assert venue.submitted == [row.id]


def test_an_illegal_transition_is_refused_and_nothing_of_it_is_written(database: None) -> None:
    """FILLED -> NEW: the atomic batch reports the command failed, its savepoint rolled back."""
    venue = FakeVenue()
    core = _core(venue)
    row = _order(status="FILLED", executed_qty=Decimal("0.5"))
    venue.outcomes[row.id] = Outcome(OrderStatus.NEW, ZERO, ZERO, ZERO)
    with write_transaction():
        events = core.begin()
        assert not core.command(_submit(row))
        assert events == []
    after = order_by_id(row.id)
    assert after is not None and after.status == "FILLED" and after.version == 0
    assert venue.tracked == []


def test_a_stepwise_venue_commits_and_publishes_each_report(database: None) -> None:
    published: list[list[OutboxRow]] = []
    venue = FakeVenue(atomic=False)
    core = _core(venue, published)
    row = _order()
    venue.outcomes[row.id] = _fill(row, core)
    assert core.command(_submit(row))  # no transaction around it: the core opens its own
    assert len(published) == 1 and isinstance(_events(published[0])[0], OrderUpdated)
    after = order_by_id(row.id)
    assert after is not None and after.status == "FILLED"
    assert outbox_pending("executor-0") == published[0]  # committed, deleted only once relayed


def test_a_stepwise_venue_that_reports_an_illegal_transition_fails_the_command(database: None) -> None:
    published: list[list[OutboxRow]] = []
    venue = FakeVenue(atomic=False)
    core = _core(venue, published)
    row = _order(status="CANCELED")
    venue.outcomes[row.id] = Outcome(OrderStatus.FILLED, Decimal("0.5"), Decimal(25000), ZERO)
    assert not core.command(_submit(row))
    assert published == []
    after = order_by_id(row.id)
    assert after is not None and after.status == "CANCELED"
    with pytest.raises(IllegalTransition):
        core.order(after, venue.outcomes[row.id])


def test_a_dead_letter_rejects_a_pending_order_when_the_venue_says_so(database: None) -> None:
    published: list[list[OutboxRow]] = []
    core = _core(FakeVenue(give_up_reason="gave up"), published)
    row = _order()
    core.dead_letter(_submit(row))
    after = order_by_id(row.id)
    assert after is not None and after.status == "REJECTED" and after.reject_reason == "gave up"
    assert [_status(e) for e in _events(published[0])] == [OrderStatus.REJECTED]


def test_a_dead_letter_leaves_the_order_alone_when_the_venue_may_still_have_it(database: None) -> None:
    published: list[list[OutboxRow]] = []
    core = _core(FakeVenue(give_up_reason=None), published)
    row = _order()
    core.dead_letter(_submit(row))
    after = order_by_id(row.id)
    assert after is not None and after.status == "PENDING" and published == []


def test_reported_exchange_balances_replace_the_rows_and_are_announced(database: None) -> None:
    published: list[list[OutboxRow]] = []
    venue = FakeVenue(atomic=False, balances=[("BTC", Decimal("0.1"), ZERO), ("USDT", Decimal(10), Decimal(5))])
    core = _core(venue, published)
    core.reconcile()
    assert [(b.asset, b.free, b.locked) for b in exchange_balances(1)] == venue.balances
    assert _events(published[0]) == [BalancesChanged(1, "account:123", (Balance("BTC", Decimal("0.1"), ZERO),
                                                                        Balance("USDT", Decimal(10), Decimal(5))))]


def test_forget_drops_the_caches_and_resets_the_venue(database: None) -> None:
    venue = FakeVenue()
    core = _core(venue)
    free: Mapping[str, Decimal] = core.free(1)
    assert free["USDT"] == Decimal(100_000)
    core.forget()
    assert venue.resets == 1 and core.free(1) is not free


def test_cancel_goes_to_the_venue_and_releases_nothing_twice(database: None) -> None:
    venue = FakeVenue()
    core = _core(venue)
    row = _order(type="LIMIT", price=Decimal(40000), time_in_force="GTC", status="NEW", client_order_id="lim")
    cancel = CancelOrder(msg_id=f"cancel:{row.id}", order_id=row.id, user_id=1)
    with write_transaction():
        events = core.begin()
        assert core.command(cancel)
    after = order_by_id(row.id)
    assert after is not None and after.status == "CANCELED"
    assert [_status(e) for e in events] == [OrderStatus.CANCELED]
