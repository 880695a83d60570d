"""Gateway: accepts trading commands, validates them, and makes them durable before answering.

For each batch: one transaction writes the orders and their outbox rows (the Executor's
SubmitOrder/CancelOrder); after commit it replies to the web nodes, relays the outbox to the
executor shards, and acks. An ACCEPTED answer therefore always means the order row is on disk.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from actors.base import MailboxActor
from actors.relay import OutboxRelay
from actors.runtime import Runtime
from app import metrics
from app.clock import now_ms
from app.domain import oco
from app.domain.answers import Answer, RejectionKind
from app.domain.orders import (
    CANCELABLE,
    LIMIT_TYPES,
    TRIGGERED_TYPES,
    OrderRejected,
    OrderRequest,
    OrderStatus,
    OrderType,
    amend_refusal,
    check_request,
)
from app.faults import crash_point
from app.hops import GATEWAY_COMMITTED, GATEWAY_READ, now_ns
from app.messages import (
    CancelOrder,
    Message,
    PlaceOco,
    PlaceOrder,
    ReplaceOrder,
    Reply,
    RequestCancel,
    RequestCancelAll,
    SubmitOrder,
    encode,
)
from app.messaging.names import shard_of
from app.messaging.streams import REPLY_MAXLEN, Delivery, add_raw
from app.money import ZERO
from app.persistence.db import db, write_transaction
from app.persistence.orders import (
    cancelable_orders,
    count_open_orders,
    insert_order,
    order_by_client_id,
    order_by_id,
    order_view,
    pending_orders,
    set_order_list_id,
)
from app.persistence.outbox import outbox_add
from app.render import order_json

if TYPE_CHECKING:
    from app.persistence.models import Order

log = logging.getLogger(__name__)

Handled = tuple[Answer, dict[str, Any], list[tuple[str, Message]]]  # how it went, the body, the outbox


class Gateway(MailboxActor):
    read_hop = GATEWAY_READ
    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime, "gateway", [runtime.names.gateway])
        self.relay: OutboxRelay
        self._stale_symbols: set[str] = set()
        self._stale_read_at = float("-inf")

    def recover(self) -> None:
        """Resend outbox rows a crash left behind, and re-enqueue every PENDING order.

        Re-enqueueing is safe: the executor applies SubmitOrder only to an order still PENDING, and
        it covers a Redis that lost its streams (no AOF, or a fresh server).
        """
        self.relay = OutboxRelay("gateway", self.producer, self.runtime.names.events)
        resent = self.relay.resend_leftovers()
        pending = pending_orders()
        self.relay.producer.send_raw_many(
            (self._executor_of(user_id),
             encode(SubmitOrder(msg_id=f"submit:{order_id}", order_id=order_id, user_id=user_id)), None)
            for order_id, user_id in pending
        )
        if resent or pending:
            log.info("gateway: resent %d outbox rows, re-enqueued %d pending orders", resent, len(pending))

    def _executor_of(self, user_id: int) -> str:
        """The mailbox of the Executor shard that owns the user's orders."""
        return self.runtime.names.executor(shard_of(user_id, self.runtime.settings.executor_shards))

    def handle_batch(self, deliveries: list[Delivery]) -> None:
        replies: list[tuple[str, Reply]] = []
        rows: list[tuple[str, str, bytes]] = []
        done: list[Delivery] = []
        settled: list[tuple[Message, Reply]] = []
        started = time.perf_counter()
        traced: list[tuple[int, Message]] = []  # (index in rows, message) of traced orders
        with write_transaction():
            self.relay.forget_published()
            for d in deliveries:
                msg = d.message
                assert msg is not None
                try:
                    with db.atomic():  # a savepoint: one failing command never takes the batch down
                        answer, body, out = self._handle(msg)
                        first = len(rows)
                        rows += outbox_add("gateway", out)
                    traced += ((first + i, m) for i, (_, m) in enumerate(out) if getattr(m, "trace", None) is not None)
                    reply = Reply.ok(msg.msg_id, answer, body)
                except OrderRejected as exc:
                    reply = Reply.rejected(msg.msg_id, exc.kind, exc.code, exc.message, exc.field)
                except Exception:
                    log.exception("gateway: %s %s failed; it stays pending and will be retried",
                                  type(msg).__name__, msg.msg_id)
                    continue
                done.append(d)
                settled.append((msg, reply))
                replies += self._reply(msg, reply)
        committed = time.perf_counter()
        crash_point("gateway.after_commit")
        if traced:  # the committed row lacks the commit's own stamp: send these re-encoded with it
            now = now_ns()
            for i, m in traced:
                m.trace[GATEWAY_COMMITTED] = now  # type: ignore[attr-defined]
                rows[i] = (rows[i][0], rows[i][1], encode(m))
        # Counted before the answers leave: whoever reads an answer finds it counted in /metrics.
        settle(self.runtime.settings.exchange, started, committed, done, settled)
        # One round trip, in this order: commands to the executors, answers to the web nodes, acks.
        assert self.consumer is not None and self.redis is not None
        pipe = self.redis.pipeline(transaction=False)
        self.relay.add_to(pipe, rows)
        add_raw(pipe, ((stream, encode(r), REPLY_MAXLEN) for stream, r in replies))
        self.consumer.ack_in(pipe, done)
        pipe.execute()
        self.relay.sent(rows)
        crash_point("gateway.after_send")
        if len(done) < len(deliveries):
            self.consumer.retry_pending()

    @staticmethod
    def _reply(msg: Message, reply: Reply) -> list[tuple[str, Reply]]:
        reply_to = getattr(msg, "reply_to", None)
        return [(reply_to, reply)] if reply_to else []

    def on_dead_letter(self, delivery: Delivery) -> None:
        """Tell a still-waiting client that its command could not be processed (nothing was stored)."""
        assert delivery.message is not None and self.redis is not None
        msg = delivery.message
        reply = Reply.rejected(msg.msg_id, RejectionKind.UNAVAILABLE, "UNAVAILABLE",
                               "the command could not be processed; nothing was stored. "
                               "Retry later with the same clientOrderId.")
        self.producer.send_raw_many((stream, encode(r), REPLY_MAXLEN) for stream, r in self._reply(msg, reply))

    def _handle(self, msg: Message) -> Handled:
        crash_point("gateway.command", msg.order.client_order_id if isinstance(msg, PlaceOrder) else "")
        if isinstance(msg, PlaceOrder):
            return self._place(msg)
        if isinstance(msg, RequestCancel):
            return self._cancel(msg)
        if isinstance(msg, PlaceOco):
            return self._place_oco(msg)
        if isinstance(msg, ReplaceOrder):
            return self._replace(msg)
        if isinstance(msg, RequestCancelAll):
            return self._cancel_all(msg)
        log.warning("gateway: ignoring unexpected %s", type(msg).__name__)
        raise OrderRejected(RejectionKind.INVALID, "BAD_REQUEST", "unexpected message")

    def _place(self, msg: PlaceOrder) -> Handled:
        spec = self.runtime.specs.get(msg.order.symbol)
        if spec is None:
            raise OrderRejected(RejectionKind.INVALID, "UNKNOWN_SYMBOL", f"symbol {msg.order.symbol} is not traded "
                                f"here; choose one of {', '.join(self.runtime.specs)}")
        req = check_request(msg.order, spec)
        existing = order_by_client_id(msg.user_id, req.client_order_id)
        if existing is not None:
            return self._repeat(existing, req)
        if req.type is OrderType.MARKET and self._stale(req.symbol):
            raise OrderRejected(RejectionKind.STALE_PRICES, "STALE_PRICES",
                                f"no live market data for {req.symbol} for a while; market orders "
                                "are paused until prices flow again (limit orders are accepted)")
        if req.type is not OrderType.MARKET and count_open_orders(msg.user_id) >= self.runtime.settings.max_open_orders:
            raise OrderRejected(RejectionKind.TOO_MANY_OPEN_ORDERS, "TOO_MANY_ORDERS",
                                f"at most {self.runtime.settings.max_open_orders} open orders "
                                "per account; cancel some first")
        order_id = _insert(msg.user_id, req, api_key_id=msg.api_key_id)
        # a clientOrderId repeated within one batch was caught above: each message has its savepoint
        stream = self._executor_of(msg.user_id)
        submit = SubmitOrder(msg_id=f"submit:{order_id}", order_id=order_id, user_id=msg.user_id, trace=msg.trace)
        body = {"orderId": order_id, "clientOrderId": req.client_order_id, "status": OrderStatus.PENDING.value}
        return Answer.ACCEPTED, body, [(stream, submit)]

    def _replace(self, msg: ReplaceOrder) -> Handled:
        """An amend: a new order naming the one it replaces; the Executor cancels and places in one transaction.

        Refused here when the old order cannot be amended now (ended, an OCO leg, a market order, partly
        filled); the Executor checks again when it applies it, since the old one may fill meanwhile."""
        old = order_by_id(msg.order_id, msg.user_id)
        if old is None:
            raise OrderRejected(RejectionKind.NOT_FOUND, "UNKNOWN_ORDER", f"order {msg.order_id} does not exist")
        view = order_view(old)
        req = OrderRequest(client_order_id=msg.client_order_id, symbol=view.symbol, side=view.side, type=view.type,
                           quantity=msg.quantity or view.quantity, price=msg.price or view.price,
                           time_in_force=view.time_in_force, stop_price=msg.stop_price or view.stop_price,
                           trailing_delta=view.trailing_delta)
        existing = order_by_client_id(msg.user_id, msg.client_order_id)
        if existing is not None:  # a retry: the same replace answers the same new order
            if existing.replaces_order_id != old.id:
                raise OrderRejected(RejectionKind.CONFLICT, "DUPLICATE_CLIENT_ORDER_ID",
                                    f"clientOrderId {msg.client_order_id} was already used for a different order "
                                    f"({existing.id})", field="clientOrderId")
            answer, body, _ = self._repeat(existing, req)
            return answer, {**body, "replacesOrderId": old.id}, []
        if (refusal := amend_refusal(old.id, view.status, view.type, view.executed_qty, old.order_list_id)):
            raise refusal
        spec = self.runtime.specs[view.symbol]
        if msg.price is not None and view.type not in LIMIT_TYPES:
            raise OrderRejected(RejectionKind.INVALID, "INVALID_PARAMS", f"a {view.type} order has no limit price; "
                                "amend its stopPrice instead", field="price")
        if msg.stop_price is not None and view.type not in TRIGGERED_TYPES:
            raise OrderRejected(RejectionKind.INVALID, "INVALID_PARAMS", f"a {view.type} order has no stopPrice",
                                field="stopPrice")
        checked = check_request(req, spec)
        new_id = _insert(msg.user_id, checked, replaces=old.id)
        stream = self._executor_of(msg.user_id)
        submit = SubmitOrder(msg_id=f"submit:{new_id}", order_id=new_id, user_id=msg.user_id)
        body = {"orderId": new_id, "clientOrderId": msg.client_order_id, "status": OrderStatus.PENDING.value,
                "replacesOrderId": old.id}
        return Answer.ACCEPTED, body, [(stream, submit)]

    def _cancel_all(self, msg: RequestCancelAll) -> Handled:
        """One CancelOrder per order still cancelable (per OCO list: canceling a leg cancels both)."""
        rows = cancelable_orders(msg.user_id, msg.symbol)
        stream = self._executor_of(msg.user_id)
        lists: set[int] = set()
        out: list[tuple[str, Message]] = []
        for row in rows:
            if row.order_list_id is not None:
                if row.order_list_id in lists:
                    continue
                lists.add(row.order_list_id)
            out.append((stream, CancelOrder(msg_id=f"cancel:{row.id}", order_id=row.id, user_id=msg.user_id)))
        body = {"symbol": msg.symbol, "orders": [{**order_json(r), "cancelRequested": True} for r in rows]}
        return (Answer.ACCEPTED if rows else Answer.OK), body, out

    def _place_oco(self, msg: PlaceOco) -> Handled:
        req = msg.oco
        spec = self.runtime.specs.get(req.symbol)
        if spec is None:
            raise OrderRejected(RejectionKind.INVALID, "UNKNOWN_SYMBOL", f"symbol {req.symbol} is not traded here; "
                                f"choose one of {', '.join(self.runtime.specs)}")
        legs = oco.leg_requests(req.list_client_order_id, req.symbol, req.side, req.quantity, req.price,
                                req.stop_price, req.tp_stop_price, req.stop_limit_price,
                                req.stop_limit_time_in_force, req.trailing_delta, spec)
        existing = [order_by_client_id(msg.user_id, leg.client_order_id) for leg in legs]
        if any(e is not None for e in existing):
            rows = [e for e in existing if e is not None]
            for row, leg in zip(rows, legs, strict=False):
                self._repeat(row, leg)  # the same list again: same answer; different fields: a conflict
            return Answer.OK, _list_body(req.list_client_order_id, rows), []
        if count_open_orders(msg.user_id) + 2 > self.runtime.settings.max_open_orders:
            raise OrderRejected(RejectionKind.TOO_MANY_OPEN_ORDERS, "TOO_MANY_ORDERS",
                                f"at most {self.runtime.settings.max_open_orders} open orders "
                                "per account; cancel some first")
        now = now_ms()
        ids: list[int] = []
        for leg in legs:
            ids.append(insert_order({
                "user_id": msg.user_id, "client_order_id": leg.client_order_id, "symbol": leg.symbol,
                "side": leg.side.value, "type": leg.type.value,
                "time_in_force": leg.time_in_force.value if leg.time_in_force else None, "quantity": leg.quantity,
                "quote_order_qty": None, "price": leg.price, "status": OrderStatus.PENDING.value,
                "executed_qty": ZERO, "cumm_quote_qty": ZERO, "locked": ZERO, "fill_count": 0, "reject_reason": None,
                "created_at": now, "updated_at": now, "version": 0, "stop_price": leg.stop_price,
                "trailing_delta": leg.trailing_delta, "triggered": False, "order_list_id": ids[0] if ids else None,
                "api_key_id": msg.api_key_id,
            }))
        set_order_list_id(ids[0], ids[0])
        stream = self._executor_of(msg.user_id)
        submit = SubmitOrder(msg_id=f"submit:{ids[0]}", order_id=ids[0], user_id=msg.user_id)
        rows = [r for r in (order_by_id(i) for i in ids) if r is not None]
        return Answer.ACCEPTED, _list_body(req.list_client_order_id, rows), [(stream, submit)]

    def _stale(self, symbol: str) -> bool:
        """Whether the live feed marked `symbol` stale. "Fresh" is cached for 100 ms (the common case
        costs no round trip); "stale" is always confirmed, so an order is never refused after recovery."""
        assert self.redis is not None
        now = time.monotonic()
        if now - self._stale_read_at > 0.1:
            self._stale_symbols = {k.decode() for k in self.redis.hkeys(self.runtime.names.stale)}
            self._stale_read_at = now
        if symbol not in self._stale_symbols:
            return False
        if self.redis.hexists(self.runtime.names.stale, symbol):
            return True
        self._stale_symbols.discard(symbol)
        return False

    @staticmethod
    def _repeat(existing: Order, req: OrderRequest) -> Handled:
        """A retried request: the same fields give back the same order; different fields are a conflict."""
        view = order_view(existing)
        same = (view.symbol == req.symbol and view.side is req.side and view.type is req.type
                and view.quantity == req.quantity and view.quote_order_qty == req.quote_order_qty
                and view.price == req.price and view.time_in_force == req.time_in_force
                and view.stop_price == req.stop_price and view.trailing_delta == req.trailing_delta)
        if not same:
            raise OrderRejected(RejectionKind.CONFLICT, "DUPLICATE_CLIENT_ORDER_ID",
                                f"clientOrderId {req.client_order_id} was already "
                                f"used for a different order ({existing.id})")
        return Answer.OK, {"orderId": existing.id, "clientOrderId": existing.client_order_id,
                     "status": existing.status}, []

    def _cancel(self, msg: RequestCancel) -> Handled:
        row = order_by_id(msg.order_id, msg.user_id)
        if row is None:
            raise OrderRejected(RejectionKind.NOT_FOUND, "UNKNOWN_ORDER", f"order {msg.order_id} does not exist")
        if OrderStatus(row.status) not in CANCELABLE:
            raise OrderRejected(RejectionKind.CONFLICT, "ORDER_NOT_CANCELABLE",
                                f"order {row.id} is already {row.status}")
        stream = self._executor_of(msg.user_id)
        cancel = CancelOrder(msg_id=f"cancel:{row.id}", order_id=row.id, user_id=msg.user_id)
        body = {**order_json(row), "cancelRequested": True}
        return Answer.ACCEPTED, body, [(stream, cancel)]


def _insert(user_id: int, req: OrderRequest, api_key_id: int | None = None, replaces: int | None = None) -> int:
    now = now_ms()
    return insert_order({
        "user_id": user_id, "client_order_id": req.client_order_id, "symbol": req.symbol,
        "side": req.side.value, "type": req.type.value,
        "time_in_force": req.time_in_force.value if req.time_in_force else None, "quantity": req.quantity,
        "quote_order_qty": req.quote_order_qty, "price": req.price, "status": OrderStatus.PENDING.value,
        "executed_qty": ZERO, "cumm_quote_qty": ZERO, "locked": ZERO, "fill_count": 0, "reject_reason": None,
        "created_at": now, "updated_at": now, "version": 0, "stop_price": req.stop_price,
        "trailing_delta": req.trailing_delta, "triggered": False, "api_key_id": api_key_id,
        "replaces_order_id": replaces,
    })


def settle(venue: str, started: float, committed: float, done: list[Delivery],
           settled: list[tuple[Message, Reply]]) -> None:
    """After the commit: the batch's metrics, and one INFO line per order accepted or refused and per cancel."""
    metrics.DB_COMMIT_SECONDS.labels("gateway").observe(committed - started)
    wall = time.time()
    for d in done:
        metrics.observe_hops({"accept_to_commit": wall - metrics.entry_ms(d.entry_id) / 1000})
    outcomes: list[tuple[str, str]] = []
    for msg, reply in settled:
        if isinstance(msg, (PlaceOrder, PlaceOco)):
            req = msg.order if isinstance(msg, PlaceOrder) else msg.oco
            order_type = req.type.value if isinstance(req, OrderRequest) else "OCO"
            if reply.answer == Answer.ACCEPTED:
                outcomes.append((order_type, "accepted"))
                log.info("order %s accepted: user %s %s %s %s %s", reply.body.get("orderId") or
                         reply.body.get("orderListId"), msg.user_id, order_type, req.side.value, req.quantity,
                         req.symbol)
            elif reply.answer == Answer.REJECTED:
                outcomes.append((order_type, "rejected"))
                log.info("order refused: user %s %s %s: %s", msg.user_id, order_type, req.symbol, reply.code)
        elif isinstance(msg, RequestCancel) and reply.answer == Answer.ACCEPTED:
            log.info("order %s cancel requested: user %s", msg.order_id, msg.user_id)
        elif isinstance(msg, ReplaceOrder) and reply.answer == Answer.ACCEPTED:
            log.info("order %s accepted: user %s replaces order %s", reply.body.get("orderId"), msg.user_id,
                     msg.order_id)
        elif isinstance(msg, RequestCancelAll) and reply.answer == Answer.ACCEPTED:
            log.info("cancel of %d orders requested: user %s %s", len(reply.body.get("orders", [])), msg.user_id,
                     msg.symbol or "all symbols")
    metrics.count_orders(venue, outcomes)


def _list_body(list_client_order_id: str, rows: list[Order]) -> dict[str, Any]:
    return {"orderListId": rows[0].id, "listClientOrderId": list_client_order_id, "contingencyType": "OCO",
            "orders": [{"orderId": r.id, "clientOrderId": r.client_order_id, "type": r.type, "status": r.status}
                       for r in rows]}
