"""Executor: executes orders on the simulated exchange and keeps balances and positions.

One Executor per shard; every account belongs to exactly one shard, so each account has a single
writer, and so has each of the shard's house accounts. A batch of messages is applied in one
transaction together with the ids of the messages it consumed (the inbox) and the events it
produces (the outbox); only then are entries acked. Because it is the only writer, the executor
keeps the balances and positions it has read in memory; a rollback drops that cache.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

from actors.base import MailboxActor
from actors.relay import OutboxRelay
from actors.runtime import Runtime
from app.cfd.desk import CfdDesk, DeskBatch, reply_for
from app.domain import execution, oco
from app.domain.book import Quote
from app.domain.execution import OrderView, Outcome
from app.domain.ledger import house_of_shard, user_free
from app.domain.orders import OPEN, OrderStatus, OrderType
from app.domain.positions import Position as PositionState
from app.events import Balance, BalancesChanged, OrderUpdated, PositionsChanged, UserEvent, order_fill, order_record
from app.faults import crash_point
from app.messages import CancelOrder, CfdRequest, EventBatch, Message, PriceTick, SubmitOrder, decode, encode
from app.messaging.names import shard_of
from app.messaging.streams import REPLY_MAXLEN, Delivery
from app.persistence.db import db, write_transaction
from app.persistence.ledger import BalanceCache, balance_rows
from app.persistence.orders import apply_outcome, order_by_id, order_list, order_view, resting_orders
from app.persistence.outbox import inbox_add, outbox_add

if TYPE_CHECKING:
    from app.persistence.models import Order

log = logging.getLogger(__name__)

Event = UserEvent


LEASE_MS = 15_000


class ShardTaken(RuntimeError):
    """Another node already runs this shard: two writers for one account must never happen."""


_RELEASE_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Executor(MailboxActor):
    timer_interval_s = LEASE_MS / 3000  # renew the shard lease three times per lease period

    def __init__(self, runtime: Runtime, shard: int) -> None:
        names = runtime.names
        super().__init__(runtime, f"executor-{shard}", [names.executor(shard), names.market])
        self.shard = shard
        self.house = house_of_shard(shard)
        self.quotes: dict[str, Quote] = {}
        self.resting: dict[int, OrderView] = {}  # open limit orders of this shard, by id
        self.relay: OutboxRelay
        self.fee_rate = runtime.settings.fee_rate
        self.balances = BalanceCache()
        self.positions: dict[tuple[int, str], PositionState] = {}
        self.desk: CfdDesk | None = None
        self.desk_behind = True  # the database may lack some of the engine's effects: catch up first

    def recover(self) -> None:
        self._take_lease()
        self.relay = OutboxRelay(self.name, self.producer, self.runtime.names.events)
        self.relay.resend_leftovers()
        self._load_resting()
        self.desk = CfdDesk(self.runtime.settings, self.runtime.specs, self.shard)
        self._desk_catch_up()
        assert self.redis is not None
        for raw in (self.redis.hgetall(self.runtime.names.prices) or {}).values():
            tick = decode(raw)
            if isinstance(tick, PriceTick):
                self.quotes[tick.symbol] = Quote(tick.bid, tick.ask, tick.ts, tick.price)

    def _take_lease(self) -> None:
        """Claim the shard for this node; the same node may take it back right after a crash."""
        assert self.redis is not None
        key, me = self.runtime.names.shard_lease(self.shard), self.runtime.settings.node_name
        if self.redis.set(key, me, nx=True, px=LEASE_MS):
            return
        owner = self.redis.get(key)
        if owner is not None and owner.decode() != me:
            raise ShardTaken(f"shard {self.shard} is already run by node {owner.decode()}; "
                             f"each shard must run in exactly one process")
        self.redis.set(key, me, px=LEASE_MS)

    def on_timer(self) -> None:
        assert self.redis is not None
        key, me = self.runtime.names.shard_lease(self.shard), self.runtime.settings.node_name
        owner = self.redis.get(key)
        if owner is not None and owner.decode() != me:
            self.runtime.fatal(f"{self.name} lost its lease to node {owner.decode()}")
            return
        self.redis.set(key, me, px=LEASE_MS)

    def on_stop(self) -> None:
        if self.desk is not None:
            self.desk.close(caught_up=not self.desk_behind)
        if self.redis is not None:
            try:
                self.redis.eval(_RELEASE_LEASE, 1, self.runtime.names.shard_lease(self.shard),
                                self.runtime.settings.node_name)
            except Exception:  # the lease expires on its own; stopping must not fail over it
                log.warning("%s: could not release its lease", self.name)
        super().on_stop()

    def _load_resting(self) -> None:
        shards = self.runtime.settings.executor_shards
        self.resting = {r.id: order_view(r) for r in resting_orders() if shard_of(r.user_id, shards) == self.shard}

    def _forget_state(self) -> None:
        """After a rollback, in-memory state may be ahead of the database: reload it lazily."""
        self.balances.clear()
        self.positions.clear()
        self._load_resting()
        self.desk_behind = True

    def _desk_catch_up(self) -> None:
        """Write the effects of engine inputs the database has not seen (after a crash or rollback)."""
        assert self.desk is not None
        caught_up = self.desk.catch_up()
        if caught_up.results:
            with write_transaction():
                rows = self._outbox(self.desk.persist(caught_up, self.balances))
            self.relay.publish(rows)
        self.desk_behind = False

    # --- batch ---------------------------------------------------------------------------------
    def handle_batch(self, deliveries: list[Delivery]) -> None:
        assert self.consumer is not None and self.desk is not None
        if self.desk_behind:
            self._desk_catch_up()
        events: list[Event] = []
        failed: list[Delivery] = []
        requests = [d.message for d in deliveries if isinstance(d.message, CfdRequest)]
        for d in deliveries:
            if isinstance(d.message, PriceTick):
                self.desk.on_tick(d.message)
        has_commands = bool(requests) or any(isinstance(d.message, (SubmitOrder, CancelOrder)) for d in deliveries)
        desk_ticks = any(self.desk.needs_tick(s) for s in self.desk.pending_ticks)
        if not has_commands and not desk_ticks and not self._ticks_need_writes(deliveries):
            self.consumer.ack(deliveries)  # prices moved, no resting order crossed: nothing to write
            return
        cfd_batch = DeskBatch()
        fault: Callable[[str], None] = crash_point if has_commands else _no_fault
        try:
            with write_transaction():
                self.relay.forget_published()
                cfd_batch = self.desk.run(requests, self.balances)  # journaled before anything sees it
                events += self.desk.persist(cfd_batch, self.balances)
                for d in deliveries:
                    msg = d.message
                    if isinstance(msg, PriceTick):
                        self._on_tick(msg, events)
                    elif isinstance(msg, (SubmitOrder, CancelOrder)) and not self._command_in_savepoint(msg, events):
                        failed.append(d)
                rows = self._outbox(events)
                fault("executor.inside_tx")
        except BaseException:
            self._forget_state()
            raise
        fault("executor.after_commit")
        self._reply_cfd(requests, cfd_batch)
        # Everything but the commands that failed is done (market data included); those stay pending.
        self.consumer.ack(d for d in deliveries if d not in failed)
        if failed:
            self._forget_state()
            self.consumer.retry_pending()
        fault("executor.after_ack")
        self.relay.publish(rows)
        self.desk.maybe_snapshot()

    def _reply_cfd(self, requests: list[CfdRequest], batch: DeskBatch) -> None:
        replies = [(req.reply_to, encode(reply_for(req, batch)), REPLY_MAXLEN) for req in requests]
        if replies:
            self.producer.send_raw_many(replies)

    def _ticks_need_writes(self, deliveries: list[Delivery]) -> bool:
        """Fold ticks into the quotes; True (before folding it) if one crosses a resting order."""
        for d in deliveries:
            tick = d.message
            if isinstance(tick, PriceTick):
                if self._crossed(tick.symbol, Quote(tick.bid, tick.ask, tick.ts, tick.price)):
                    return True
                self._accept_quote(tick)
        return False

    def _accept_quote(self, tick: PriceTick) -> Quote | None:
        """Make `tick` the symbol's quote; None for an older tick, which never moves the market back."""
        previous = self.quotes.get(tick.symbol)
        if previous is not None and previous.ts > tick.ts:
            return None
        quote = self.quotes[tick.symbol] = Quote(tick.bid, tick.ask, tick.ts, tick.price)
        return quote

    def _crossed(self, symbol: str, quote: Quote) -> list[OrderView]:
        return [o for o in self.resting.values() if o.symbol == symbol and execution.reacts_to(o, quote)]

    def _command_in_savepoint(self, msg: SubmitOrder | CancelOrder, events: list[Event]) -> bool:
        mark = len(events)
        try:
            with db.atomic():
                if inbox_add(self.name, msg.msg_id):  # False: its effect is already committed
                    crash_point("executor.command")
                    self._on_command(msg, events)
            return True
        except Exception:
            log.exception("%s: %s %s failed; it will be retried", self.name, type(msg).__name__, msg.msg_id)
            del events[mark:]
            self.balances.clear()
            self.positions.clear()
            return False

    def _outbox(self, events: list[Event]) -> list[tuple[str, str, bytes]]:
        if not events:
            return []
        first = events[0]
        batch = EventBatch(msg_id=f"events:{first.KIND}:{first.cause}", events=events)
        return outbox_add(self.name, [(self.runtime.names.events, batch)])

    def on_dead_letter(self, delivery: Delivery) -> None:
        """A command failed too often: reject its order so the funds it reserved are released."""
        msg = delivery.message
        if not isinstance(msg, SubmitOrder):
            return
        events: list[Event] = []
        with write_transaction():
            row = order_by_id(msg.order_id)
            if row is None or row.status != OrderStatus.PENDING.value:
                return
            view = order_view(row)
            outcome = Outcome(OrderStatus.REJECTED, view.executed_qty, view.cumm_quote_qty, view.locked,
                              reason="internal error while executing; the order was not executed")
            self._apply(row, view, outcome, events)
            rows = self._outbox(events)
        self.relay.publish(rows)

    # --- messages ------------------------------------------------------------------------------
    def _on_command(self, msg: Message, events: list[Event]) -> None:
        assert isinstance(msg, (SubmitOrder, CancelOrder))
        row = order_by_id(msg.order_id, msg.user_id)
        if row is None:
            log.warning("%s: %s for unknown order %s", self.name, type(msg).__name__, msg.order_id)
            return
        view = order_view(row)
        spec = self.runtime.specs[view.symbol]
        if view.order_list_id is not None:
            self._on_list_command(msg, view, events)
            return
        if isinstance(msg, SubmitOrder):
            if view.status is not OrderStatus.PENDING:
                return  # already executed (a redelivery) or canceled before it ran
            free = self.balances.account(user_free(view.user_id))
            outcome = execution.place(view, self.quotes.get(view.symbol), spec, free, self.fee_rate, self.house)
        else:
            if view.status not in (OrderStatus.PENDING, *OPEN):
                return  # filled or canceled meanwhile: nothing to release, exactly once
            outcome = execution.cancel(view, spec)
        self._apply(row, view, outcome, events)

    def _list_rows(self, list_id: int) -> list[Order]:
        return order_list(list_id)

    def _on_list_command(self, msg: SubmitOrder | CancelOrder, view: OrderView, events: list[Event]) -> None:
        """OCO: both legs are placed together, and canceling either cancels the list."""
        assert view.order_list_id is not None
        rows = self._list_rows(view.order_list_id)
        spec = self.runtime.specs[view.symbol]
        if isinstance(msg, SubmitOrder):
            if len(rows) != 2 or any(r.status != OrderStatus.PENDING.value for r in rows):
                return  # placed already (a redelivery)
            first, second = (order_view(r) for r in rows)
            free = self.balances.account(user_free(first.user_id))
            outcomes = oco.place(first, second, self.quotes.get(first.symbol), spec, free)
            for row, outcome in zip(rows, outcomes, strict=True):
                self._apply(row, order_view(row), outcome, events)
            return
        for row in rows:
            leg = order_view(row)
            if leg.status in (OrderStatus.PENDING, *OPEN):
                self._apply(row, leg, execution.cancel(leg, spec), events)

    def _on_tick(self, tick: PriceTick, events: list[Event]) -> None:
        quote = self._accept_quote(tick)
        if quote is None:
            return
        for order in sorted(self._crossed(tick.symbol, quote), key=lambda o: o.id):
            row = order_by_id(order.id)
            if row is None:
                continue
            view = order_view(row)
            spec = self.runtime.specs[view.symbol]
            free = self.balances.account(user_free(view.user_id))
            if view.order_list_id is not None:
                legs = {r.id: r for r in self._list_rows(view.order_list_id)}
                sibling = next((order_view(r) for i, r in legs.items() if i != view.id), None)
                if sibling is not None:
                    for leg, outcome in oco.on_quote(view, sibling, quote, spec, self.fee_rate, self.house, free):
                        self._apply(legs[leg.id], order_view(legs[leg.id]), outcome, events)
                    continue
            outcome = execution.on_quote(view, quote, spec, self.fee_rate, self.house, free)
            if outcome is not None:
                self._apply(row, view, outcome, events)

    def _apply(self, row: Order, view: OrderView, outcome: Outcome, events: list[Event]) -> None:
        spec = self.runtime.specs[view.symbol]
        positions = apply_outcome(row, view, outcome, spec.base, self.balances, self.positions)
        if outcome.status in OPEN and view.type is not OrderType.MARKET:
            self.resting[row.id] = order_view(row)
        else:
            self.resting.pop(row.id, None)
        uid = view.user_id
        cause = f"{row.id}:{row.version}"
        events.append(OrderUpdated(uid, cause, order_record(row), tuple(order_fill(f) for f in outcome.fills)))
        if outcome.entries:
            events.append(balance_update(uid, cause, [b for b in balance_rows(uid, self.balances)
                                                      if b[0] in outcome.touched_assets]))
        if positions:
            events.append(PositionsChanged(uid, cause, tuple(positions)))


def _no_fault(name: str) -> None:
    """Crash points count command batches only, not the steady stream of ticks."""


def balance_update(user_id: int, cause: str, balances: Iterable[tuple[str, Decimal, Decimal]]) -> BalancesChanged:
    """The one BALANCE_UPDATE event of both venues, from (asset, free, locked) rows."""
    return BalancesChanged(user_id, cause, tuple(Balance(*row) for row in balances))
