"""Executor: executes orders on the simulated exchange and keeps balances and positions.

One Executor per shard; every account belongs to exactly one shard, so each account has a single
writer. A batch of messages is applied in one transaction together with the ids of the messages
it consumed (the inbox) and the events it produces (the outbox); only then are entries acked.
"""

from __future__ import annotations

import logging
from typing import Any

from actors.base import MailboxActor
from actors.relay import OutboxRelay
from actors.runtime import Runtime
from app.domain import execution
from app.domain.book import Quote
from app.domain.execution import OrderView, Outcome
from app.domain.orders import OPEN, OrderStatus, OrderType
from app.domain.positions import Position as PositionState
from app.faults import crash_point
from app.messages import CancelOrder, Message, PriceTick, SubmitOrder, UserEvent, decode
from app.messaging.names import shard_of
from app.messaging.streams import Delivery
from app.money import to_str
from app.persistence.db import db, write_transaction
from app.persistence.models import Order
from app.persistence.store import (
    apply_outcome,
    fills_of,
    free_balances,
    inbox_add,
    inbox_seen,
    order_view,
    outbox_add,
    user_balances,
)
from app.schemas import order_json

log = logging.getLogger(__name__)


class Executor(MailboxActor):
    def __init__(self, runtime: Runtime, shard: int) -> None:
        names = runtime.names
        super().__init__(runtime, f"executor-{shard}", [names.executor(shard), names.market])
        self.shard = shard
        self.quotes: dict[str, Quote] = {}
        self.resting: dict[int, OrderView] = {}  # open limit orders of this shard, by id
        self.relay = OutboxRelay(self.name, runtime.producer, names.events)
        self.fee_rate = runtime.settings.fee_rate

    def recover(self) -> None:
        self.relay.resend_leftovers()
        self._load_resting()
        for raw in (self.runtime.redis.hgetall(self.runtime.names.prices) or {}).values():
            tick = decode(raw)
            if isinstance(tick, PriceTick):
                self.quotes[tick.symbol] = Quote(tick.bid, tick.ask, tick.ts)

    def _load_resting(self) -> None:
        shards = self.runtime.settings.executor_shards
        rows = Order.select().where(Order.status.in_([s.value for s in OPEN]) & (Order.type == OrderType.LIMIT.value))
        self.resting = {r.id: order_view(r) for r in rows if shard_of(r.user_id, shards) == self.shard}

    # --- batch ---------------------------------------------------------------------------------
    def handle_batch(self, deliveries: list[Delivery]) -> None:
        assert self.consumer is not None
        events: list[UserEvent] = []
        failed = False
        resting_before = dict(self.resting)
        fault = crash_point if any(isinstance(d.message, (SubmitOrder, CancelOrder)) for d in deliveries) else _no_fault
        try:
            with write_transaction():
                self.relay.forget_published()
                for d in deliveries:
                    msg = d.message
                    assert msg is not None
                    if isinstance(msg, PriceTick):
                        self._on_tick(msg, events)
                        continue
                    if not isinstance(msg, (SubmitOrder, CancelOrder)):
                        continue
                    try:
                        with db.atomic():
                            if inbox_seen(self.name, msg.msg_id):
                                continue
                            self._on_command(msg, events)
                            inbox_add(self.name, msg.msg_id)
                    except Exception:
                        log.exception("%s: %s %s failed; it will be retried", self.name, type(msg).__name__,
                                      msg.msg_id)
                        failed = True
                rows = outbox_add(self.name, ((self.runtime.names.events, e) for e in events))
                fault("executor.inside_tx")
        except BaseException:
            self.resting = resting_before
            raise
        fault("executor.after_commit")
        if failed:
            self._load_resting()
            self.consumer.ack(d for d in deliveries if isinstance(d.message, PriceTick))
            self.consumer.retry_pending()
        else:
            self.consumer.ack(deliveries)
        fault("executor.after_ack")
        self.relay.publish(rows)

    def on_dead_letter(self, delivery: Delivery) -> None:
        """A command failed too often: reject its order so the funds it reserved are released."""
        msg = delivery.message
        if not isinstance(msg, SubmitOrder):
            return
        events: list[UserEvent] = []
        with write_transaction():
            row = Order.get_or_none(Order.id == msg.order_id)
            if row is None or row.status != OrderStatus.PENDING.value:
                return
            view = order_view(row)
            outcome = Outcome(OrderStatus.REJECTED, view.executed_qty, view.cumm_quote_qty, view.locked,
                              reason="internal error while executing; the order was not executed")
            self._apply(row, view, outcome, events)
            rows = outbox_add(self.name, ((self.runtime.names.events, e) for e in events))
        self.relay.publish(rows)

    # --- messages ------------------------------------------------------------------------------
    def _on_command(self, msg: Message, events: list[UserEvent]) -> None:
        assert isinstance(msg, (SubmitOrder, CancelOrder))
        row = Order.get_or_none((Order.id == msg.order_id) & (Order.user_id == msg.user_id))
        if row is None:
            log.warning("%s: %s for unknown order %s", self.name, type(msg).__name__, msg.order_id)
            return
        view = order_view(row)
        spec = self.runtime.specs[view.symbol]
        if isinstance(msg, SubmitOrder):
            if view.status is not OrderStatus.PENDING:
                return  # already executed (a redelivery) or canceled before it ran
            free = free_balances(view.user_id)
            outcome = execution.place(view, self.quotes.get(view.symbol), spec, free, self.fee_rate)
        else:
            if view.status not in (OrderStatus.PENDING, *OPEN):
                return  # filled or canceled meanwhile: nothing to release, exactly once
            outcome = execution.cancel(view, spec)
        self._apply(row, view, outcome, events)

    def _on_tick(self, tick: PriceTick, events: list[UserEvent]) -> None:
        quote = Quote(tick.bid, tick.ask, tick.ts)
        previous = self.quotes.get(tick.symbol)
        if previous is not None and previous.ts > tick.ts:
            return  # an older tick arriving late never moves the market backwards
        self.quotes[tick.symbol] = quote
        crossed = [o for o in self.resting.values() if o.symbol == tick.symbol and execution.crosses(o, quote)]
        for order in sorted(crossed, key=lambda o: o.id):
            row = Order.get_or_none(Order.id == order.id)
            if row is None:
                continue
            view = order_view(row)
            outcome = execution.on_quote(view, quote, self.runtime.specs[view.symbol], self.fee_rate)
            if outcome is not None:
                self._apply(row, view, outcome, events)

    def _apply(self, row: Order, view: OrderView, outcome: Outcome, events: list[UserEvent]) -> None:
        spec = self.runtime.specs[view.symbol]
        positions = apply_outcome(row, view, outcome, spec.base)
        if outcome.status in OPEN and view.type is OrderType.LIMIT:
            self.resting[row.id] = order_view(row)
        else:
            self.resting.pop(row.id, None)
        uid = view.user_id
        fills = fills_of([row.id]).get(row.id, [])
        cause = f"{row.id}:{row.version}"
        events.append(_event(uid, "ORDER_UPDATE", cause, order_json(row, fills)))
        if outcome.entries:
            balances = [b for b in user_balances(uid) if b["asset"] in outcome.touched_assets]
            events.append(_event(uid, "BALANCE_UPDATE", cause, {"balances": balances}))
        if positions:
            events.append(_event(uid, "POSITION_UPDATE", cause, {"positions": [_position(p) for p in positions]}))


def _no_fault(name: str) -> None:
    """Crash points count command batches only, not the steady stream of ticks."""


def _event(user_id: int, kind: str, cause: str, data: dict[str, Any]) -> UserEvent:
    """Event ids derive from the order version that caused them, so a replay yields the same ids."""
    return UserEvent(msg_id=f"{kind}:{cause}", user_id=user_id, kind=kind, data=data)


def _position(p: PositionState) -> dict[str, Any]:
    return {"asset": p.asset, "quantity": to_str(p.quantity), "avgEntryPrice": to_str(p.avg_entry),
            "realizedPnl": to_str(p.realized_pnl)}
