"""BinanceVenue: EXCHANGE=binance. Orders execute on Binance Spot (Testnet) with the user's keys.

The matching happens at Binance, so this venue is not atomic: no exchange call is ever made inside
a database transaction, and each report it makes commits on its own. For each order:

1. record `exchange_sent_at` (exchange time) and commit, then send it with our clientOrderId as
   `newClientOrderId`;
2. an answer (FULL: status and fills) is reported, and applied in one transaction with its events;
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

from app.clock import now_ms
from app.domain.execution import Outcome
from app.domain.orders import CANCELABLE, OrderStatus
from app.domain.symbols import SymbolSpec
from app.exchange import translate
from app.exchange.binance import AuthFailed, BinanceClient, BinanceError, RateLimited, Rejected, StatusUnknown
from app.execution.venue import Engine
from app.faults import crash_point
from app.messages import CancelOrder, PriceTick, SubmitOrder
from app.money import ZERO
from app.persistence.db import write_transaction
from app.persistence.exchange import exchange_key, users_with_keys
from app.persistence.orders import (
    legs_of,
    mark_list_unsent,
    mark_sent,
    order_by_id,
    order_view,
    watched_orders,
)
from app.security.vault import Vault
from settings import Settings

if TYPE_CHECKING:
    from app.persistence.models import Order

log = logging.getLogger(__name__)

BALANCE_REFRESH_MS = 30_000
MAX_WAIT_S = 5.0
STALE_PENDING_MS = 5_000  # a PENDING order this old lost its command (dead-lettered): the poller sends it
_SENDABLE = (OrderStatus.PENDING.value, OrderStatus.UNKNOWN.value)
_WATCHED = tuple(s.value for s in CANCELABLE - {OrderStatus.PENDING})  # sent, and its fate still open
_CANCELABLE = frozenset(s.value for s in CANCELABLE)


class BinanceVenue:
    market_data = False  # Binance does the matching
    atomic = False

    def __init__(self, settings: Settings, specs: dict[str, SymbolSpec], vault: Vault, shard: int,
                 name: str) -> None:
        self.settings = settings
        self.specs = specs
        self.vault = vault
        self.shard = shard
        self.name = name
        self.timer_s: float | None = settings.binance_poll_ms / 1000
        self.http = httpx.Client(timeout=settings.binance_timeout_s, headers={"User-Agent": "troupe"})
        self.clients: dict[int, tuple[bytes, BinanceClient]] = {}
        self.paused_until = 0.0  # after a 429: Retry-After
        self.balances_at: dict[int, int] = {}

    def start(self, ticks: list[PriceTick]) -> None:
        """Nothing in memory to rebuild: every order's state is in its row, and the poller follows it."""

    def reset(self) -> None:
        """Nothing is cached ahead of the database."""

    def close(self) -> None:
        self.http.close()

    def give_up(self, msg: SubmitOrder | CancelOrder) -> str | None:
        """Never reject here: the order may exist at Binance. The poller reconciles it."""
        log.warning("%s: %s gave up after many attempts; the poller keeps reconciling it", self.name,
                    type(msg).__name__)
        return None

    # --- quotes: none, Binance matches ---------------------------------------------------------------
    def quiet_quote(self, tick: PriceTick) -> bool:
        return True

    def on_quote(self, tick: PriceTick, engine: Engine) -> None:
        """Never called: this venue reads no market data."""

    def track(self, row: Order) -> None:
        """No index of open orders: the poller reads them from the database."""

    # --- rate limits -----------------------------------------------------------------------------------
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
        client = BinanceClient(
            self.settings.binance_api_url,
            self.vault.open(bytes(row.api_key_enc), user_id=user_id, exchange="binance", label="api_key"),
            self.vault.open(bytes(row.secret_enc), user_id=user_id, exchange="binance", label="secret"),
            self.http, recv_window_ms=self.settings.binance_recv_window_ms)
        client.sync_clock()
        self.clients[user_id] = (bytes(row.api_key_enc), client)
        return client

    # --- commands --------------------------------------------------------------------------------------
    def submit(self, row: Order, engine: Engine) -> bool:
        try:
            return self._submit(row, engine)
        except RateLimited as exc:
            self._pause(exc)
            return False

    def cancel(self, row: Order, engine: Engine) -> bool:
        try:
            return self._cancel(row, engine)
        except RateLimited as exc:
            self._pause(exc)
            return False

    def _submit(self, row: Order, engine: Engine) -> bool:
        """Send (or find again) a PENDING/UNKNOWN order. True when nothing is left to do for it."""
        if row.status not in _SENDABLE:
            return True  # done already (a redelivery), or canceled before it was sent
        if self._paused():
            return False
        client = self._client(row.user_id)
        if client is None:
            engine.order(row, translate.rejected("add your Binance Spot Testnet API keys on the account page "
                                                 "to trade with EXCHANGE=binance"))
            return True
        if row.order_list_id is not None and row.exchange_sent_at is None:
            return self._send_list(row, client, engine)
        if row.exchange_sent_at is not None:
            return self._reconcile(row, client, engine)
        return self._send(row, client, engine)

    def _send_list(self, row: Order, client: BinanceClient, engine: Engine) -> bool:
        """An OCO goes to Binance as one order list; each report is applied to its leg."""
        rows = legs_of(row)
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
                engine.order(r, translate.rejected(_reason(exc)))
            return True
        except StatusUnknown:
            for r in rows:
                self._mark_unknown(r, engine)
            return True
        by_cid = {r.client_order_id: r for r in rows}
        for report in answer.get("orderReports", []):
            leg = by_cid.get(report.get("clientOrderId"))
            if leg is not None:
                self._record(leg, client, report, report.get("fills", []), engine)
        return True

    def _send(self, row: Order, client: BinanceClient, engine: Engine) -> bool:
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
            engine.order(row, translate.rejected(_reason(exc)))
            return True
        except StatusUnknown as exc:
            log.warning("%s: order %s sent, answer lost (%s); reconciling by clientOrderId", self.name, row.id, exc)
            self._mark_unknown(row, engine)
            return True  # the poller owns it from here
        except RateLimited:  # refused before execution: it may be sent again
            with write_transaction():
                mark_sent([row.id], None)
            raise
        crash_point("binance.after_send", row.client_order_id)
        self._record(row, client, answer, answer.get("fills", []), engine)
        return True

    def _reconcile(self, row: Order, client: BinanceClient, engine: Engine) -> bool:
        try:
            answer = client.query_order(row.symbol, row.client_order_id)
        except Rejected as exc:
            if exc.code != -2013:
                raise
            assert row.exchange_sent_at is not None
            deadline = row.exchange_sent_at + 2 * self.settings.binance_recv_window_ms
            if client.now_ms() < deadline:
                return False  # it may still arrive at the matching engine: ask again later
            log.info("%s: order %s never reached Binance and no longer can; sending it again", self.name, row.id)
            if row.order_list_id is not None:
                if row.order_list_id != row.id:
                    return False  # the list is sent again through its first order
                with write_transaction():
                    mark_list_unsent(row.order_list_id)
                return self._send_list(row, client, engine)
            return self._send(row, client, engine)
        except StatusUnknown:
            return False
        self._record(row, client, answer, self._trades(client, row, answer), engine)
        return True

    def _trades(self, client: BinanceClient, row: Order, answer: dict[str, Any]) -> list[dict[str, Any]] | None:
        """All of the order's trades, oldest first; None when nothing was executed since last time."""
        executed = Decimal(str(answer.get("executedQty", "0")))
        if executed in (ZERO, row.executed_qty):
            return None
        trades = client.my_trades(row.symbol, int(answer["orderId"]))
        return sorted(trades, key=lambda t: int(t["id"]))

    def _cancel(self, row: Order, engine: Engine) -> bool:
        if row.status not in _CANCELABLE:
            return True
        if row.exchange_sent_at is None:  # never sent: cancel here; the SubmitOrder will find it CANCELED
            for leg in legs_of(row):
                if leg.status in _CANCELABLE:
                    engine.order(leg, Outcome(OrderStatus.CANCELED, leg.executed_qty, leg.cumm_quote_qty, ZERO))
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
            return self._reconcile(row, client, engine)
        self._record(row, client, answer, self._trades(client, row, answer), engine)
        return True

    # --- reporting Binance's answers ---------------------------------------------------------------------
    def _record(self, row: Order, client: BinanceClient, answer: dict[str, Any],
                fills: list[dict[str, Any]] | None, engine: Engine) -> None:
        outcome = translate.outcome_of(order_view(row), self.specs[row.symbol], answer, fills)
        if outcome is None:
            return
        engine.order(row, outcome, exchange_order_id=int(answer["orderId"]))
        self._refresh_balances(row.user_id, client, engine)

    def _mark_unknown(self, row: Order, engine: Engine) -> None:
        engine.order(row, Outcome(OrderStatus.UNKNOWN, row.executed_qty, row.cumm_quote_qty, ZERO))

    def _refresh_balances(self, user_id: int, client: BinanceClient, engine: Engine) -> None:
        try:
            account = client.account()
        except BinanceError as exc:
            log.warning("%s: could not read the Binance account of user %s: %s", self.name, user_id, exc)
            return
        now = now_ms()
        engine.exchange_balances(user_id, translate.balances_of(account), now)
        self.balances_at[user_id] = now

    # --- polling -----------------------------------------------------------------------------------------
    def reconcile(self, engine: Engine) -> None:
        """Follow the shard's sent orders until they end, send PENDING ones whose command was lost, and
        refresh balances not read for a while."""
        if self._paused():
            return
        shards = self.settings.executor_shards
        ids = watched_orders(list(_WATCHED), now_ms() - STALE_PENDING_MS, self.shard, shards)
        try:
            for order_id in ids:
                row = order_by_id(order_id)  # now: an earlier step of this round may have changed it
                if row is None:
                    continue
                if row.status == OrderStatus.PENDING.value:
                    self._submit(row, engine)
                elif row.status in _WATCHED and row.exchange_sent_at is not None:
                    self._poll(row, engine)
            self._refresh_stale_balances(engine)
        except RateLimited as exc:
            self._pause(exc)
        except Exception:
            log.exception("%s: polling Binance failed; trying again in %.1f s", self.name, self.timer_s)

    def _poll(self, row: Order, engine: Engine) -> None:
        client = self._client(row.user_id)
        if client is None:
            return
        if row.status == OrderStatus.UNKNOWN.value:
            self._reconcile(row, client, engine)
            return
        try:
            answer = client.query_order(row.symbol, row.client_order_id)
        except StatusUnknown:
            return
        self._record(row, client, answer, self._trades(client, row, answer), engine)

    def _refresh_stale_balances(self, engine: Engine) -> None:
        now = now_ms()
        for uid in users_with_keys(self.shard, self.settings.executor_shards):
            if now - self.balances_at.get(uid, 0) > BALANCE_REFRESH_MS:
                client = self._client(uid)
                if client is not None:
                    self._refresh_balances(uid, client, engine)


def _leg(row: Order) -> dict[str, Any]:
    """One order of an OCO list as Binance's above*/below* parameters."""
    fields = {"type": row.type, "clientOrderId": row.client_order_id, "price": row.price,
              "stopPrice": row.stop_price, "trailingDelta": row.trailing_delta, "timeInForce": row.time_in_force}
    return {k: v for k, v in fields.items() if v is not None}


def _reason(exc: BinanceError) -> str:
    if isinstance(exc, AuthFailed):
        return f"Binance refused your API key ({exc.code}): {exc.message}; check the keys on the account page"
    return f"Binance rejected the order ({exc.code}): {exc.message}"
