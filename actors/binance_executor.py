"""BinanceExecutor: EXCHANGE=binance. Orders execute on Binance Spot (Testnet) with the user's keys.

Same mailbox, lease and outbox as the simulator's Executor, but the matching happens at Binance, so
no exchange call is ever made inside a database transaction. For each order:

1. record `exchange_sent_at` (exchange time) and commit, then send it with our clientOrderId as
   `newClientOrderId`;
2. an answer (FULL: status and fills) is applied in one transaction with its events;
3. a lost answer (5xx, -1007, timeout, a crash between 1 and 2) leaves the order UNKNOWN. It is
   found again by `origClientOrderId`. Only when Binance says it does not exist *and* the request
   can no longer be executed (its timestamp is older than twice recvWindow, which also covers
   clock error) is it sent again, so there is never a second order.

Resting orders are polled until they end, and every fill is recorded once (by its position in
the order's trade list). Balances are the exchange account's, refreshed after each change.
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx

from actors.executor import Event, Executor, balance_update
from actors.relay import OutboxRelay
from actors.runtime import Runtime
from app.clock import now_ms
from app.domain.answers import RejectionKind
from app.domain.execution import Outcome
from app.domain.orders import OrderStatus
from app.exchange import translate
from app.exchange.binance import AuthFailed, BinanceClient, BinanceError, RateLimited, Rejected, StatusUnknown
from app.faults import crash_point
from app.messages import CancelOrder, CfdRequest, Reply, SubmitOrder, encode
from app.messaging.names import shard_of
from app.messaging.streams import REPLY_MAXLEN, Delivery
from app.money import ZERO
from app.persistence.db import write_transaction
from app.persistence.exchange import exchange_key, replace_exchange_balances, users_with_keys
from app.persistence.orders import (
    mark_list_unsent,
    mark_sent,
    order_by_id,
    order_list,
    order_view,
    set_exchange_order_id,
    watched_orders,
)

if TYPE_CHECKING:
    from app.persistence.models import Order

log = logging.getLogger(__name__)

BALANCE_REFRESH_MS = 30_000
MAX_WAIT_S = 5.0
STALE_PENDING_MS = 5_000  # a PENDING order this old lost its command (dead-lettered): the poller sends it
_WATCHED = (OrderStatus.NEW.value, OrderStatus.PARTIALLY_FILLED.value, OrderStatus.UNKNOWN.value)


class BinanceExecutor(Executor):
    def __init__(self, runtime: Runtime, shard: int) -> None:
        super().__init__(runtime, shard)
        self.streams = [runtime.names.executor(shard)]  # no market data: Binance does the matching
        s = runtime.settings
        self.timer_interval_s = s.binance_poll_ms / 1000
        self.http = httpx.Client(timeout=s.binance_timeout_s, headers={"User-Agent": "troupe"})
        self.clients: dict[int, tuple[bytes, BinanceClient]] = {}
        self.paused_until = 0.0  # after a 429: Retry-After
        self.balances_at: dict[int, int] = {}

    def recover(self) -> None:
        self._take_lease()

        self.relay = OutboxRelay(self.name, self.producer, self.runtime.names.events)
        self.relay.resend_leftovers()

    def on_stop(self) -> None:
        self.http.close()
        super().on_stop()

    def on_dead_letter(self, delivery: Delivery) -> None:
        """Never reject here: the order may exist at Binance. The poller reconciles it."""
        log.warning("%s: %s gave up after many attempts; the poller keeps reconciling it",
                    self.name, type(delivery.message).__name__)

    # --- commands --------------------------------------------------------------------------------
    def handle_batch(self, deliveries: list[Delivery]) -> None:
        assert self.consumer is not None
        done, failed = [], []
        for d in deliveries:
            msg = d.message
            finished = True
            if isinstance(msg, CfdRequest):
                reply = Reply.rejected(msg.msg_id, RejectionKind.CONFLICT, "CFD_UNAVAILABLE",
                                       "the CFD desk runs with EXCHANGE=simulator")
                self.producer.send_raw_many([(msg.reply_to, encode(reply), REPLY_MAXLEN)])
            elif isinstance(msg, (SubmitOrder, CancelOrder)):
                try:
                    finished = self._submit(msg.order_id) if isinstance(msg, SubmitOrder) else self._cancel(msg)
                except RateLimited as exc:
                    self._pause(exc)
                    finished = False
                except Exception:
                    log.exception("%s: %s %s failed; it will be retried", self.name, type(msg).__name__, msg.msg_id)
                    finished = False
            (done if finished else failed).append(d)
        self.consumer.ack(done)
        if failed:
            self.consumer.retry_pending()

    def _pause(self, exc: RateLimited) -> None:
        log.warning("%s: Binance rate limit; pausing %.0f s (Retry-After)", self.name, exc.retry_after)
        self.paused_until = time.monotonic() + exc.retry_after

    def _paused(self) -> bool:
        """Wait out a short Retry-After (every call from this node counts against the same limit);
        True while a longer one is still running."""
        left = self.paused_until - time.monotonic()
        if 0 < left <= MAX_WAIT_S:
            time.sleep(left)
            return False
        return left > 0

    def _client(self, user_id: int) -> BinanceClient | None:
        row = exchange_key(user_id)
        if row is None:
            self.clients.pop(user_id, None)
            return None
        cached = self.clients.get(user_id)
        if cached is not None and cached[0] == bytes(row.api_key_enc):
            return cached[1]
        vault = self.runtime.vault
        client = BinanceClient(
            self.runtime.settings.binance_api_url,
            vault.open(bytes(row.api_key_enc), user_id=user_id, exchange="binance", label="api_key"),
            vault.open(bytes(row.secret_enc), user_id=user_id, exchange="binance", label="secret"),
            self.http, recv_window_ms=self.runtime.settings.binance_recv_window_ms)
        client.sync_clock()
        self.clients[user_id] = (bytes(row.api_key_enc), client)
        return client

    def _submit(self, order_id: int) -> bool:
        """Send (or find again) a PENDING/UNKNOWN order. True when nothing is left to do for it."""
        row = order_by_id(order_id)
        if row is None or row.status not in (OrderStatus.PENDING.value, OrderStatus.UNKNOWN.value):
            return True  # done already (a redelivery), or canceled before it was sent
        if self._paused():
            return False
        client = self._client(row.user_id)
        if client is None:
            self._outcome(row, translate.rejected("add your Binance Spot Testnet API keys on the account page "
                                                  "to trade with EXCHANGE=binance"))
            return True
        if row.order_list_id is not None and row.exchange_sent_at is None:
            return self._send_list(row, client)
        if row.exchange_sent_at is not None:
            return self._reconcile(row, client)
        return self._send(row, client)

    def _send_list(self, row: Order, client: BinanceClient) -> bool:
        """An OCO goes to Binance as one order list; each report is applied to its leg."""
        assert row.order_list_id is not None
        rows = order_list(row.order_list_id)
        if len(rows) != 2:
            return True
        tp, sl = rows
        sent_at = client.now_ms()
        with write_transaction():
            mark_sent([r.id for r in rows], sent_at)
            for r in rows:
                r.exchange_sent_at = sent_at
        above, below = (tp, sl) if tp.side == "SELL" else (sl, tp)
        try:
            answer = client.new_oco(tp.symbol, tp.side, tp.quantity, tp.client_order_id.removesuffix("-tp"),
                                    _leg(above), _leg(below))
        except (Rejected, AuthFailed) as exc:
            for r in rows:
                self._outcome(r, translate.rejected(_reason(exc)))
            return True
        except StatusUnknown:
            for r in rows:
                self._mark_unknown(r)
            return True
        by_cid = {r.client_order_id: r for r in rows}
        for report in answer.get("orderReports", []):
            leg = by_cid.get(report.get("clientOrderId"))
            if leg is not None:
                self._record(leg, client, report, report.get("fills", []))
        return True

    def _send(self, row: Order, client: BinanceClient) -> bool:
        sent_at = client.now_ms()
        with write_transaction():
            mark_sent([row.id], sent_at)
        row.exchange_sent_at = sent_at
        crash_point("binance.before_send", row.client_order_id)
        try:
            answer = client.new_order(row.symbol, row.side, row.type, row.client_order_id, quantity=row.quantity,
                                      quote_order_qty=row.quote_order_qty, price=row.price,
                                      time_in_force=row.time_in_force, stop_price=row.stop_price,
                                      trailing_delta=row.trailing_delta)
        except (Rejected, AuthFailed) as exc:
            self._outcome(row, translate.rejected(_reason(exc)))
            return True
        except StatusUnknown as exc:
            log.warning("%s: order %s sent, answer lost (%s); reconciling by clientOrderId", self.name, row.id, exc)
            self._mark_unknown(row)
            return True  # the poller owns it from here
        except RateLimited as exc:  # refused before execution: it may be sent again
            with write_transaction():
                mark_sent([row.id], None)
            raise exc
        crash_point("binance.after_send", row.client_order_id)
        self._record(row, client, answer, answer.get("fills", []))
        return True

    def _reconcile(self, row: Order, client: BinanceClient) -> bool:
        try:
            answer = client.query_order(row.symbol, row.client_order_id)
        except Rejected as exc:
            if exc.code != -2013:
                raise
            assert row.exchange_sent_at is not None
            deadline = row.exchange_sent_at + 2 * self.runtime.settings.binance_recv_window_ms
            if client.now_ms() < deadline:
                return False  # it may still arrive at the matching engine: ask again later
            log.info("%s: order %s never reached Binance and no longer can; sending it again", self.name, row.id)
            if row.order_list_id is not None:
                if row.order_list_id != row.id:
                    return False  # the list is sent again through its first order
                with write_transaction():
                    mark_list_unsent(row.order_list_id)
                return self._send_list(row, client)
            return self._send(row, client)
        except StatusUnknown:
            return False
        self._record(row, client, answer, self._trades(client, row, answer))
        return True

    def _trades(self, client: BinanceClient, row: Order, answer: dict[str, Any]) -> list[dict[str, Any]] | None:
        """All of the order's trades, oldest first; None when nothing was executed since last time."""
        executed = Decimal(str(answer.get("executedQty", "0")))
        if executed in (ZERO, row.executed_qty):
            return None
        trades = client.my_trades(row.symbol, int(answer["orderId"]))
        return sorted(trades, key=lambda t: int(t["id"]))

    def _cancel(self, msg: CancelOrder) -> bool:
        row = order_by_id(msg.order_id, msg.user_id)
        if row is None or row.status not in (OrderStatus.PENDING.value, OrderStatus.UNKNOWN.value,
                                             OrderStatus.NEW.value, OrderStatus.PARTIALLY_FILLED.value):
            return True
        if row.exchange_sent_at is None:  # never sent: cancel here; the SubmitOrder will find it CANCELED
            legs = [row] if row.order_list_id is None else order_list(row.order_list_id)
            for leg in legs:
                self._outcome(leg, Outcome(OrderStatus.CANCELED, leg.executed_qty, leg.cumm_quote_qty, ZERO))
            return True
        if self._paused():
            return False
        client = self._client(row.user_id)
        if client is None:
            return True
        try:
            answer = client.cancel_order(row.symbol, row.client_order_id)
        except Rejected as exc:
            if exc.code != -2011:
                raise
            # Filled (or ended) before the cancel arrived: record what really happened.
            return self._reconcile(row, client)
        self._record(row, client, answer, self._trades(client, row, answer))
        return True

    # --- applying Binance's answers ----------------------------------------------------------------
    def _record(self, row: Order, client: BinanceClient, answer: dict[str, Any],
                fills: list[dict[str, Any]] | None) -> None:
        view = order_view(row)
        outcome = translate.outcome_of(view, self.runtime.specs[row.symbol], answer, fills)
        if outcome is None:
            return
        self._outcome(row, outcome, exchange_order_id=int(answer["orderId"]))
        self._refresh_balances(row.user_id, client)

    def _outcome(self, row: Order, outcome: Outcome, exchange_order_id: int | None = None) -> None:
        events: list[Event] = []
        with write_transaction():
            self._apply(row, order_view(row), outcome, events)
            if exchange_order_id is not None:
                set_exchange_order_id(row.id, exchange_order_id)
            rows = self._outbox(events)
        self.relay.publish(rows)

    def _mark_unknown(self, row: Order) -> None:
        view = order_view(row)
        self._outcome(row, Outcome(OrderStatus.UNKNOWN, view.executed_qty, view.cumm_quote_qty,
                                             ZERO))

    def _refresh_balances(self, user_id: int, client: BinanceClient) -> None:
        try:
            account = client.account()
        except BinanceError as exc:
            log.warning("%s: could not read the Binance account of user %s: %s", self.name, user_id, exc)
            return
        now = now_ms()
        rows = translate.balances_of(account)
        events = [balance_update(user_id, f"account:{now}", rows)]
        with write_transaction():
            replace_exchange_balances(user_id, rows, now)
            rows = self._outbox(events)
        self.relay.publish(rows)
        self.balances_at[user_id] = now

    # --- polling -----------------------------------------------------------------------------------
    def on_timer(self) -> None:
        super().on_timer()  # the shard lease
        if self._paused():
            return
        shards = self.runtime.settings.executor_shards
        ids = [order_id for order_id, user_id in watched_orders(list(_WATCHED), now_ms() - STALE_PENDING_MS)
               if shard_of(user_id, shards) == self.shard]
        try:
            for order_id in ids:
                row = order_by_id(order_id)  # now: an earlier step of this round may have changed it
                if row is None:
                    continue
                if row.status == OrderStatus.PENDING.value:
                    self._submit(order_id)
                elif row.status in _WATCHED and row.exchange_sent_at is not None:
                    self._poll(row)
            self._refresh_stale_balances()
        except RateLimited as exc:
            self._pause(exc)
        except Exception:
            log.exception("%s: polling Binance failed; trying again in %.1f s", self.name, self.timer_interval_s)

    def _poll(self, row: Order) -> None:
        client = self._client(row.user_id)
        if client is None:
            return
        if row.status == OrderStatus.UNKNOWN.value:
            self._reconcile(row, client)
            return
        try:
            answer = client.query_order(row.symbol, row.client_order_id)
        except StatusUnknown:
            return
        self._record(row, client, answer, self._trades(client, row, answer))

    def _refresh_stale_balances(self) -> None:
        shards, now = self.runtime.settings.executor_shards, now_ms()
        for uid in users_with_keys():
            if shard_of(uid, shards) == self.shard and now - self.balances_at.get(uid, 0) > BALANCE_REFRESH_MS:
                client = self._client(uid)
                if client is not None:
                    self._refresh_balances(uid, client)


def _leg(row: Order) -> dict[str, Any]:
    """One order of an OCO list as Binance's above*/below* parameters."""
    fields = {"type": row.type, "clientOrderId": row.client_order_id, "price": row.price,
              "stopPrice": row.stop_price, "trailingDelta": row.trailing_delta, "timeInForce": row.time_in_force}
    return {k: v for k, v in fields.items() if v is not None}


def _reason(exc: BinanceError) -> str:
    if isinstance(exc, AuthFailed):
        return f"Binance refused your API key ({exc.code}): {exc.message}; check the keys on the account page"
    return f"Binance rejected the order ({exc.code}): {exc.message}"
