"""Executor: one shard's executor actor, for either venue (the simulator or Binance).

One Executor per shard; every account belongs to exactly one shard, so each account has a single
writer, and so has each of the shard's house accounts. The actor is the thread and Redis edge of
an `ExecutorCore` (`app/execution/core.py`): it holds the shard's lease, reads the mailbox (and,
for a venue that matches itself, the market topic), opens the batch's transaction, acks after the
commit and relays the outbox. What differs between venues is the venue's (`app/execution/`), chosen
from settings by `venue_for`.

With an atomic venue (the simulator) a batch is applied in one transaction together with the ids
of the messages it consumed (the inbox) and the events it produces (the outbox); only then are
entries acked. The CFD desk runs in that same transaction, so it exists only with such a venue.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from decimal import Decimal

from actors.base import MailboxActor
from actors.relay import OutboxRelay
from actors.runtime import Runtime
from app import metrics
from app.cfd.desk import CfdDesk, DeskBatch, reply_for
from app.clock import now_ms
from app.domain.answers import RejectionKind
from app.domain.execution import Fees
from app.domain.ledger import house_of_shard
from app.execution import account_reset
from app.execution.core import ExecutorCore, OutboxRow
from app.execution.equity import EquityRecorder
from app.execution.simulated import SimulatedVenue
from app.execution.venue import Venue
from app.faults import crash_point
from app.hops import EXECUTOR_COMMITTED, EXECUTOR_READ
from app.messages import CancelOrder, CfdRequest, PriceTick, Reply, ResetAccount, SubmitOrder, decode, encode
from app.messaging.streams import REPLY_MAXLEN, Delivery, add_raw
from app.money import ZERO
from app.persistence.db import write_transaction
from app.persistence.equity import add_points

log = logging.getLogger(__name__)

LEASE_MS = 15_000


class ShardTaken(RuntimeError):
    """Another node already runs this shard: two writers for one account must never happen."""


_RELEASE_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def venue_for(runtime: Runtime, shard: int) -> Venue:
    """The venue EXCHANGE names, for one shard."""
    s = runtime.settings
    if s.exchange == "binance":
        from app.execution.binance import BinanceVenue  # only then: its HTTP client costs start-up time

        return BinanceVenue(s, runtime.specs, runtime.vault, shard, f"executor-{shard}")
    return SimulatedVenue(runtime.specs, Fees(s.fee_maker_rate, s.fee_taker_rate), house_of_shard(shard), shard,
                          s.executor_shards)


class Executor(MailboxActor):
    read_hop = EXECUTOR_READ
    def __init__(self, runtime: Runtime, shard: int, venue: Venue) -> None:
        names = runtime.names
        streams = [names.executor(shard), names.market] if venue.market_data else [names.executor(shard)]
        super().__init__(runtime, f"executor-{shard}", streams)
        self.shard = shard
        self.venue = venue
        # renew the shard lease three times per lease period, or as often as the venue polls
        self.timer_interval_s = venue.timer_s if venue.timer_s is not None else LEASE_MS / 3000
        self.relay: OutboxRelay
        self.core: ExecutorCore
        self.desk: CfdDesk | None = None
        self.desk_behind = True  # the database may lack some of the engine's effects: catch up first

    def recover(self) -> None:
        self._take_lease()
        self.relay = OutboxRelay(self.name, self.producer, self.runtime.names.events)
        self.relay.resend_leftovers()
        self.core = ExecutorCore(self.name, self.venue, self.runtime.specs, self.runtime.names.events,
                                 self.relay.publish, command_fault=crash_point)
        self.venue.start(self._latest_ticks() if self.venue.market_data else [])
        self.equity = EquityRecorder(self.runtime.specs, self.shard, self.runtime.settings.executor_shards)
        if self.venue.atomic:
            self.desk = CfdDesk(self.runtime.settings, self.runtime.specs, self.shard)
            self._desk_catch_up()

    def _latest_ticks(self) -> list[PriceTick]:
        """The last tick of every symbol, as the PriceFeed left them in Redis."""
        assert self.redis is not None
        ticks = (decode(raw) for raw in (self.redis.hgetall(self.runtime.names.prices) or {}).values())
        return [t for t in ticks if isinstance(t, PriceTick)]

    # --- the shard lease -----------------------------------------------------------------------------
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
        self.core.reconcile()
        self._record_minute()

    def _record_minute(self) -> None:
        """Once per clock minute, every account's equity point, in a transaction of its own (atomic venues:
        with EXCHANGE=binance the balances are the exchange's, which the curve does not follow yet)."""
        now = now_ms()
        if not self.venue.atomic or not self.equity.due(now):
            return
        try:
            self.equity.see(self._latest_ticks())  # the marks of a quiet market too
            with write_transaction():
                add_points(self.equity.minute_points(now))
                self.equity.thin(now)
        except Exception:
            log.exception("%s: could not record the minute's equity points; next minute again", self.name)

    def on_stop(self) -> None:
        if self.desk is not None:
            self.desk.close(caught_up=not self.desk_behind)
        self.venue.close()
        if self.redis is not None:
            try:
                self.redis.eval(_RELEASE_LEASE, 1, self.runtime.names.shard_lease(self.shard),
                                self.runtime.settings.node_name)
            except Exception:  # the lease expires on its own; stopping must not fail over it
                log.warning("%s: could not release its lease", self.name)
        super().on_stop()

    def on_dead_letter(self, delivery: Delivery) -> None:
        msg = delivery.message
        if isinstance(msg, (SubmitOrder, CancelOrder)):
            self.core.dead_letter(msg)

    # --- batches -------------------------------------------------------------------------------------
    def handle_batch(self, deliveries: list[Delivery]) -> None:
        if self.venue.atomic:
            self._atomic_batch(deliveries)
        else:
            self._stepwise_batch(deliveries)

    def _stepwise_batch(self, deliveries: list[Delivery]) -> None:
        """A venue that calls an exchange: each command's steps commit on their own."""
        assert self.consumer is not None
        done, failed = [], []
        for d in deliveries:
            msg = d.message
            finished = True
            if isinstance(msg, CfdRequest):
                reply = Reply.rejected(msg.msg_id, RejectionKind.CONFLICT, "CFD_UNAVAILABLE",
                                       "the CFD desk runs with EXCHANGE=simulator")
                self.producer.send_raw_many([(msg.reply_to, encode(reply), REPLY_MAXLEN)])
            elif isinstance(msg, ResetAccount):
                reply = Reply.rejected(msg.msg_id, RejectionKind.CONFLICT, "RESET_UNAVAILABLE",
                                       "an account can be reset with EXCHANGE=simulator only")
                self.producer.send_raw_many([(msg.reply_to, encode(reply), REPLY_MAXLEN)])
            elif isinstance(msg, (SubmitOrder, CancelOrder)):
                finished = self.core.command(msg)
                metrics.observe_hops({"submit_to_commit": time.time() - metrics.entry_ms(d.entry_id) / 1000})
            (done if finished else failed).append(d)
        self.consumer.ack(done)
        if failed:
            self.consumer.retry_pending()

    def _desk_catch_up(self) -> None:
        """Write the effects of engine inputs the database has not seen (after a crash or rollback)."""
        assert self.desk is not None
        caught_up = self.desk.catch_up()
        if caught_up.results:
            with write_transaction():
                rows = self.core.outbox(self.desk.persist(caught_up, self.core.balances))
            self.relay.publish(rows)
        self.desk_behind = False

    def _forget_state(self) -> None:
        self.core.forget()
        self.desk_behind = True

    def _atomic_batch(self, deliveries: list[Delivery]) -> None:
        """The simulator: the whole batch (desk, ticks, commands) in one transaction, then ack, then relay."""
        assert self.consumer is not None and self.desk is not None
        if self.desk_behind:
            self._desk_catch_up()
        failed: list[Delivery] = []
        requests = [d.message for d in deliveries if isinstance(d.message, CfdRequest)]
        ticks = [d.message for d in deliveries if isinstance(d.message, PriceTick)]
        resets = [d.message for d in deliveries if isinstance(d.message, ResetAccount)]
        for tick in ticks:
            self.desk.on_tick(tick)
        self.equity.see(ticks)
        has_commands = bool(requests) or bool(resets) or any(isinstance(d.message, (SubmitOrder, CancelOrder))
                                                             for d in deliveries)
        desk_ticks = any(self.desk.needs_tick(s) for s in self.desk.pending_ticks)
        if not has_commands and not desk_ticks and self.core.quiet(ticks):
            self.consumer.ack(deliveries)  # prices moved, no resting order reacts: nothing to write
            return
        cfd_batch = DeskBatch()
        rows: list[OutboxRow] = []
        reset_replies: list[tuple[str, Reply]] = []
        fault: Callable[[str], None] = crash_point if has_commands else _no_fault
        started = time.perf_counter()
        try:
            with write_transaction():
                self.relay.forget_published()
                events = self.core.begin()
                plans = account_reset.plan(resets, self._equity)
                cfd_batch = self.desk.run(requests, self.core.balances,  # journaled before anything sees it
                                          [(m.user_id, plans[m.request_key].tag) for m in resets
                                           if m.request_key in plans])
                events += self.desk.persist(cfd_batch, self.core.balances)
                for d in deliveries:
                    msg = d.message
                    if isinstance(msg, PriceTick):
                        self.core.quote(msg)
                    elif isinstance(msg, (SubmitOrder, CancelOrder)) and not self.core.command(msg):
                        failed.append(d)
                    elif isinstance(msg, ResetAccount):
                        planned = plans.get(msg.request_key)
                        closed = cfd_batch.closed_by_reset.get(planned.tag, 0) if planned else 0
                        reply = account_reset.apply(msg, planned, closed, self.core, self._equity,
                                                    self.runtime.settings.starting_wallet, self.equity.marks(),
                                                    self.shard)
                        if reply is None:
                            failed.append(d)
                        else:
                            reset_replies.append((msg.reply_to, reply))
                self._record_fills()
                rows = self.core.outbox(events)
                fault("executor.inside_tx")
        except BaseException:
            self._forget_state()
            raise
        fault("executor.after_commit")
        rows = self.core.restamp(rows, events, EXECUTOR_COMMITTED)
        committed(self.name, started, [d for d in deliveries if isinstance(d.message, (SubmitOrder, CancelOrder))])
        self.core.report_finished()
        self.desk.report(cfd_batch)
        if reset_replies:
            crash_point("executor.reset_committed")  # committed, not answered: a retry must find it done
        # One round trip, in this order: the answers, the acks (all but the commands that failed, which stay
        # pending; market data included), the outbox's events.
        assert self.redis is not None
        pipe = self.redis.pipeline(transaction=False)
        replies = [(req.reply_to, reply_for(req, cfd_batch)) for req in requests] + reset_replies
        add_raw(pipe, [(to, encode(r), REPLY_MAXLEN) for to, r in replies])
        self.consumer.ack_in(pipe, [d for d in deliveries if d not in failed])
        self.relay.add_to(pipe, rows)
        pipe.execute()
        self.relay.sent(rows)
        if failed:
            self._forget_state()
            self.consumer.retry_pending()
        fault("executor.after_send")
        self.desk.maybe_snapshot()

    # --- equity points and resets (inside the batch's transaction) -------------------------------------
    def _equity(self, user_id: int) -> Decimal:
        assert self.desk is not None
        return self.equity.equity_of(user_id, self.core.balances, user_id in self.desk.engine.balances)

    def _record_fills(self) -> None:
        """A point for every user with a fill in this batch (one per user per batch)."""
        if self.core.filled:
            now = now_ms()
            add_points([(uid, now, self._equity(uid), ZERO, "FILL") for uid in sorted(self.core.filled)])


def committed(actor: str, started: float, commands: list[Delivery]) -> None:
    """A batch's transaction time, and each command's wait from its mailbox entry to this commit."""
    now = time.perf_counter()
    metrics.DB_COMMIT_SECONDS.labels(actor).observe(now - started)
    wall = time.time()
    for d in commands:
        metrics.observe_hops({"submit_to_commit": wall - metrics.entry_ms(d.entry_id) / 1000})


def _no_fault(name: str) -> None:
    """Crash points count command batches only, not the steady stream of ticks."""
