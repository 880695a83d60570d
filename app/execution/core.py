"""ExecutorCore: the executor's logic without a thread, a mailbox or Redis.

It takes its collaborators in its constructor (the venue, the symbols, the outbox's stream and a
`publish` callback for rows committed outside a batch) and talks to the database only through the
repositories of `app/persistence/`. The Executor actor (`actors/executor.py`) owns one and feeds it
commands, ticks and timer calls; tests drive it with a fake venue.

`_apply` is the only place an outcome becomes rows (fills, ledger, position, the order) and
events, and it refuses a status change the order status machine does not allow.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING

from app import metrics
from app.domain.execution import Outcome
from app.domain.ledger import user_free, user_locked
from app.domain.orders import CANCELABLE, IllegalTransition, OrderStatus, OrderType, amend_refusal, can_transition
from app.domain.positions import Position as PositionState
from app.domain.reset import reset_entries
from app.domain.symbols import SymbolSpec
from app.events import OrderUpdated, PositionsChanged
from app.execution.user_events import Event, balance_update, events_for
from app.execution.venue import Venue
from app.hops import now_ns
from app.messages import CancelOrder, EventBatch, PriceTick, SubmitOrder, encode
from app.money import ZERO
from app.persistence.db import db, write_transaction
from app.persistence.exchange import replace_exchange_balances
from app.persistence.ledger import BalanceCache, LedgerError, balance_rows, post_entries
from app.persistence.orders import apply_outcome, order_by_id, order_view, set_exchange_order_id, user_orders
from app.persistence.outbox import inbox_add, outbox_add
from app.persistence.positions import save_position, user_positions

if TYPE_CHECKING:
    from app.persistence.models import Order

log = logging.getLogger(__name__)

MAX_RESET_ORDERS = 100_000  # far above MAX_OPEN_ORDERS: a reset cancels every open order
OutboxRow = tuple[str, str, bytes]  # (id, stream, payload), as the outbox relay publishes it


class ExecutorCore:
    """One shard's executor: routes commands and quotes to its venue and applies what the venue reports."""

    def __init__(self, name: str, venue: Venue, specs: Mapping[str, SymbolSpec], events_stream: str,
                 publish: Callable[[list[OutboxRow]], None],
                 command_fault: Callable[[str], None] = lambda point: None) -> None:
        self.name = name
        self.venue = venue
        self.specs = specs
        self.events_stream = events_stream
        self.publish = publish  # rows committed outside a batch (a non-atomic venue, a dead letter)
        self.command_fault = command_fault  # a named crash point inside a command's savepoint
        self.balances = BalanceCache()  # single writer: what it read stays true until a rollback
        self.positions: dict[tuple[int, str], PositionState] = {}
        self.events: list[Event] = []  # the open batch's events (an atomic venue reports into them)
        self.filled: set[int] = set()  # users with a fill in the open batch (their equity is recorded after it)
        self.finished: list[tuple[int, int, str, str]] = []  # orders ended, uncommitted: (id, user, type, status)
        self.venue_label = "simulator" if venue.atomic else "binance"  # the EXCHANGE it runs for (metrics)

    # --- the Engine a venue reports to -------------------------------------------------------------
    def order(self, row: Order, outcome: Outcome, exchange_order_id: int | None = None) -> None:
        if self.venue.atomic:
            self._apply(row, outcome, self.events, exchange_order_id)
            return
        events: list[Event] = []
        self.finished.clear()  # what a failed earlier attempt left was never committed
        with write_transaction():
            self._apply(row, outcome, events, exchange_order_id)
            rows = self.outbox(events)
        self.report_finished()
        self.publish(rows)

    def exchange_balances(self, user_id: int, rows: list[tuple[str, Decimal, Decimal]], at: int) -> None:
        events: list[Event] = [balance_update(user_id, f"account:{at}", rows)]
        if self.venue.atomic:
            replace_exchange_balances(user_id, rows, at)
            self.events += events
            return
        with write_transaction():
            replace_exchange_balances(user_id, rows, at)
            out = self.outbox(events)
        self.publish(out)

    def free(self, user_id: int) -> Mapping[str, Decimal]:
        return self.balances.account(user_free(user_id))

    # --- batches -----------------------------------------------------------------------------------
    def begin(self) -> list[Event]:
        """Start a batch; its events collect in the returned list (the caller adds its own, e.g. the desk's)."""
        self.events = []
        self.filled = set()
        self.finished.clear()
        return self.events

    def command(self, msg: SubmitOrder | CancelOrder) -> bool:
        """Run one command; False: it failed (or is not finished) and must be delivered again.

        With an atomic venue this runs inside the batch's transaction, in a savepoint together with
        its inbox row, so a redelivered command is skipped. Otherwise the venue's steps commit one
        by one and each is idempotent by the order's state.
        """
        if not self.venue.atomic:
            try:
                return self._run(msg)
            except Exception:
                log.exception("%s: %s %s failed; it will be retried", self.name, type(msg).__name__, msg.msg_id)
                return False
        mark, ended = len(self.events), len(self.finished)
        try:
            with db.atomic():
                if inbox_add(self.name, msg.msg_id):  # False: its effect is already committed
                    self.command_fault("executor.command")
                    self._run(msg)
                    if isinstance(msg, SubmitOrder) and msg.trace is not None:
                        self._trace(mark, msg.order_id, msg.trace)
            return True
        except Exception:
            log.exception("%s: %s %s failed; it will be retried", self.name, type(msg).__name__, msg.msg_id)
            del self.events[mark:]
            del self.finished[ended:]
            self.balances.clear()
            self.positions.clear()
            return False

    def _run(self, msg: SubmitOrder | CancelOrder) -> bool:
        row = order_by_id(msg.order_id, msg.user_id)
        if row is None:
            log.warning("%s: %s for unknown order %s", self.name, type(msg).__name__, msg.order_id)
            return True
        if isinstance(msg, SubmitOrder):
            if row.replaces_order_id is not None and row.status == OrderStatus.PENDING.value:
                return self._replace(row, row.replaces_order_id)
            return self.venue.submit(row, self)
        return self.venue.cancel(row, self)

    def _replace(self, row: Order, old_id: int) -> bool:
        """An amend: cancel the order `row` replaces, then submit `row`; if the old one can no longer be
        canceled (filled meanwhile), `row` is rejected saying why and the old one is left as it is.

        With an atomic venue both happen in this command's savepoint, so the trader sees one order move or
        none. A non-atomic venue (Binance) commits the cancel first; a redelivery finds it done and goes on."""
        old = order_by_id(old_id, row.user_id)
        refusal = None if old is None else amend_refusal(old.id, OrderStatus(old.status), OrderType(old.type),
                                                          order_view(old).executed_qty, old.order_list_id)
        if old is not None and refusal is None and not self.venue.cancel(old, self):
            return False  # not finished (a non-atomic venue): delivered again
        after = None if old is None else order_by_id(old_id, row.user_id)
        if after is not None and after.status == OrderStatus.CANCELED.value and order_view(after).executed_qty == 0:
            return self.venue.submit(row, self)
        reason = (refusal.message if refusal is not None else
                  f"order {old_id} could not be canceled (it is {after.status if after else 'gone'}); "
                  "nothing was replaced")
        view = order_view(row)
        self.order(row, Outcome(OrderStatus.REJECTED, view.executed_qty, view.cumm_quote_qty, view.locked,
                                reason=reason))
        return True

    def _trace(self, mark: int, order_id: int, trace: dict[str, int]) -> None:
        """The order's updates from this command carry its hop trace on (TRACE_HOPS only)."""
        for i in range(mark, len(self.events)):
            ev = self.events[i]
            if isinstance(ev, OrderUpdated) and ev.order.id == order_id:
                self.events[i] = dataclasses.replace(ev, trace=trace)

    def restamp(self, rows: list[OutboxRow], events: list[Event], hop: str) -> list[OutboxRow]:
        """After the commit: stamp `hop` on the traced order updates among `events` and re-encode their
        row, committed before the stamp existed. Untraced batches come back as they are."""
        traces = [e.trace for e in events if isinstance(e, OrderUpdated) and e.trace is not None]
        if not traces or len(rows) != 1:
            return rows
        now = now_ns()
        for trace in traces:
            trace[hop] = now
        row_id, stream, _ = rows[0]
        return [(row_id, stream, encode(self._batch(events)))]

    def quiet(self, ticks: list[PriceTick]) -> bool:
        """Fold ticks that move no order into the venue's quotes; False as soon as one would move one."""
        return all(self.venue.quiet_quote(tick) for tick in ticks)

    def quote(self, tick: PriceTick) -> None:
        """A tick inside the batch's transaction: the venue fills, triggers or trails what it reaches."""
        self.venue.on_quote(tick, self)

    def outbox(self, events: list[Event]) -> list[OutboxRow]:
        """The events as one outbox row (in the caller's transaction), for the relay after commit."""
        if not events:
            return []
        return outbox_add(self.name, [(self.events_stream, self._batch(events))])

    @staticmethod
    def _batch(events: list[Event]) -> EventBatch:
        first = events[0]
        return EventBatch(msg_id=f"events:{first.KIND}:{first.cause}", events=events)

    def forget(self) -> None:
        """After a rollback, in-memory state may be ahead of the database: reload it lazily."""
        self.balances.clear()
        self.positions.clear()
        self.finished.clear()
        self.venue.reset()

    # --- outside batches ---------------------------------------------------------------------------
    def reconcile(self) -> None:
        self.venue.reconcile(self)

    def dead_letter(self, msg: SubmitOrder | CancelOrder) -> None:
        """A command failed too often: if the venue says so, reject its order so its funds are released."""
        reason = self.venue.give_up(msg)
        if reason is None or not isinstance(msg, SubmitOrder):
            return
        events: list[Event] = []
        self.finished.clear()
        with write_transaction():
            row = order_by_id(msg.order_id)
            if row is None or row.status != OrderStatus.PENDING.value:
                return
            view = order_view(row)
            self._apply(row, Outcome(OrderStatus.REJECTED, view.executed_qty, view.cumm_quote_qty, view.locked,
                                     reason=reason), events)
            rows = self.outbox(events)
        self.report_finished()
        self.publish(rows)

    # --- the one place outcomes become rows and events ---------------------------------------------
    def _apply(self, row: Order, outcome: Outcome, events: list[Event], exchange_order_id: int | None = None) -> None:
        old = OrderStatus(row.status)
        if not can_transition(old, outcome.status):
            log.error("%s: refusing to move order %s from %s to %s", self.name, row.id, old, outcome.status)
            raise IllegalTransition(row.id, old, outcome.status)
        view = order_view(row)
        positions = apply_outcome(row, view, outcome, self.specs[view.symbol].base, self.balances, self.positions)
        if exchange_order_id is not None:
            set_exchange_order_id(row.id, exchange_order_id)
            row.exchange_order_id = exchange_order_id
        self.venue.track(row)
        if outcome.fills:
            self.filled.add(row.user_id)
        events += events_for(row, outcome, positions, self.balances)
        if outcome.status is not old and outcome.status not in CANCELABLE:
            self.finished.append((row.id, row.user_id, view.type.value, outcome.status.value))

    def report_finished(self) -> None:
        """After the commit: each order that ended, counted and logged once (INFO, one line each)."""
        for order_id, user_id, order_type, status in self.finished:
            log.info("order %s %s: user %s %s", order_id, status, user_id, order_type)
        metrics.count_orders(self.venue_label, [(t, status) for _, _, t, status in self.finished])
        self.finished.clear()

    # --- an account reset (inside the batch's transaction; atomic venues only) ---------------------
    def reset(self, user_id: int, tag: str, wallet: tuple[tuple[str, Decimal], ...], reset_account: str,
              marks: Mapping[str, Decimal]) -> int:
        """Cancel the user's open orders (releasing what they lock), sweep its wallet to `reset_account` and
        deposit `wallet` from it (`app/domain/reset.py`), and start its spot positions over at `marks`, as
        opening an account does. Returns how many orders it canceled."""
        open_orders = user_orders(user_id, [s.value for s in CANCELABLE], None, MAX_RESET_ORDERS, None)
        for row in open_orders:  # an OCO's second leg finds itself canceled with the first: nothing twice
            self.venue.cancel(row, self)
        free, locked = self.balances.account(user_free(user_id)), self.balances.account(user_locked(user_id))
        if any(locked.values()):
            raise LedgerError(f"user {user_id} still has locked funds after canceling its orders: {locked}")
        cause = f"reset:{tag}"
        post_entries(reset_entries(user_id, tag, reset_account, dict(free), wallet), None, self.balances)
        held = dict(wallet)
        moved = []
        for asset in sorted(set(user_positions(user_id)) | {a for a, q in wallet if a != "USDT" and q > 0}):
            qty = held.get(asset, ZERO)
            pos = PositionState(asset, qty, marks.get(asset, ZERO) if qty > 0 else ZERO, ZERO)
            save_position(user_id, pos)
            self.positions[(user_id, asset)] = pos
            moved.append(pos)
        self.events.append(balance_update(user_id, cause, balance_rows(user_id, self.balances)))
        if moved:
            self.events.append(PositionsChanged(user_id, cause, tuple(moved)))
        return len(open_orders)
