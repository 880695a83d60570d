"""Database operations shared by actors and read handlers. Call inside the caller's transaction."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable
from decimal import Decimal

from peewee import fn

from app.domain.execution import OrderView, Outcome
from app.domain.ledger import Entry, is_user_account, net_changes, user_free, user_locked
from app.domain.orders import OrderStatus, OrderType, Side, TimeInForce
from app.domain.positions import Position as PositionState
from app.domain.positions import apply_fill
from app.messages import Message, encode
from app.money import ZERO
from app.persistence.models import Balance, Fill, Inbox, LedgerRow, Order, Outbox, Position, now_ms


class LedgerError(RuntimeError):
    """A posting would take a user's balance below zero: a bug, never a user error."""


# --- ledger -------------------------------------------------------------------------------------

class BalanceCache:
    """Balances of the accounts one writer owns, kept in memory after the first read.

    Valid only for a single writer per account (an executor shard); clear it when a transaction
    rolls back, and it reloads from the database on the next use.
    """

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], Decimal] = {}
        self._loaded: set[str] = set()

    def load(self, account: str) -> None:
        if account in self._loaded:
            return
        for row in Balance.select().where(Balance.account == account):
            self.values[(row.account, row.asset)] = row.amount
        self._loaded.add(account)

    def account(self, account: str) -> dict[str, Decimal]:
        self.load(account)
        return {asset: v for (acc, asset), v in self.values.items() if acc == account}

    def clear(self) -> None:
        self.values.clear()
        self._loaded.clear()


def post_entries(entries: Iterable[Entry], now: int | None = None,
                 cache: BalanceCache | None = None) -> dict[tuple[str, str], Decimal]:
    """Append the entries' legs to the ledger and update the balance rows; returns new balances.

    Rows are updated in sorted key order, so concurrent writers can never deadlock on them.
    """
    entries = list(entries)
    if not entries:
        return {}
    now = now or now_ms()
    rows = [
        {"account": p.account, "asset": p.asset, "delta": p.delta, "kind": e.kind, "ref_type": e.ref_type,
         "ref_id": e.ref_id, "leg": p.leg, "created_at": now}
        for e in entries for p in e.postings
    ]
    for i in range(0, len(rows), 100):
        LedgerRow.insert_many(rows[i:i + 100]).execute()
    changes = net_changes(entries)
    cache = cache or BalanceCache()
    for account in {k[0] for k in changes}:
        cache.load(account)
    out = {}
    for key in sorted(changes):
        old = cache.values.get(key)
        new = (old or ZERO) + changes[key]
        if new < 0 and is_user_account(key[0]):
            raise LedgerError(f"{key[0]} {key[1]} would go negative ({new})")
        if old is None:
            Balance.insert(account=key[0], asset=key[1], amount=new).execute()
        else:
            Balance.update(amount=new).where((Balance.account == key[0]) & (Balance.asset == key[1])).execute()
        cache.values[key] = new
        out[key] = new
    return out


def balances_of(keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Decimal]:
    keys = list(keys)
    accounts = {k[0] for k in keys}
    if not accounts:
        return {}
    rows = Balance.select().where(Balance.account.in_(list(accounts)))
    wanted = set(keys)
    return {(r.account, r.asset): r.amount for r in rows if (r.account, r.asset) in wanted}


def user_balances(user_id: int, cache: BalanceCache | None = None) -> list[dict[str, str]]:
    cache = cache or BalanceCache()
    free, locked = cache.account(user_free(user_id)), cache.account(user_locked(user_id))
    return [balance_json(a, free.get(a, ZERO), locked.get(a, ZERO)) for a in sorted(set(free) | set(locked))]


def balance_json(asset: str, free: Decimal, locked: Decimal) -> dict[str, str]:
    from app.money import to_str
    return {"asset": asset, "free": to_str(free), "locked": to_str(locked)}


def ledger_sums() -> dict[tuple[str, str], Decimal]:
    """Σ delta per (account, asset), summed exactly in Python (SQL SUM would use floats on SQLite)."""
    out: dict[tuple[str, str], Decimal] = {}
    for row in LedgerRow.select(LedgerRow.account, LedgerRow.asset, LedgerRow.delta).iterator():
        key = (row.account, row.asset)
        out[key] = out.get(key, ZERO) + row.delta
    return out


# --- outbox / inbox -----------------------------------------------------------------------------

_outbox_seq = itertools.count()


def outbox_add(origin: str, items: Iterable[tuple[str, Message]]) -> list[tuple[str, str, bytes]]:
    """Insert messages to publish after commit; returns (id, stream, payload) for the relay.

    Ids are generated here (time, then a process-wide counter) so a batch is one INSERT.
    """
    out = []
    for stream, msg in items:
        row_id = f"{time.time_ns():020d}-{next(_outbox_seq):09d}"
        out.append((row_id, stream, encode(msg)))
    if out:
        Outbox.insert_many([{"id": i, "origin": origin, "stream": st, "payload": p.decode()} for i, st, p in out]
                           ).execute()
    return out


def outbox_pending(origin: str) -> list[tuple[str, str, bytes]]:
    rows = Outbox.select().where(Outbox.origin == origin).order_by(Outbox.id)
    return [(r.id, r.stream, r.payload.encode()) for r in rows]


def outbox_delete(ids: list[str]) -> None:
    for i in range(0, len(ids), 500):
        Outbox.delete().where(Outbox.id.in_(ids[i:i + 500])).execute()


def inbox_add(consumer: str, msg_id: str) -> bool:
    """Record a consumed message in the effect's transaction; False if it was already recorded."""
    return bool(Inbox.insert(consumer=consumer, msg_id=msg_id).on_conflict_ignore().execute())


# --- orders -------------------------------------------------------------------------------------

def order_view(row: Order) -> OrderView:
    return OrderView(
        id=row.id, user_id=row.user_id, symbol=row.symbol, side=Side(row.side), type=OrderType(row.type),
        time_in_force=TimeInForce(row.time_in_force) if row.time_in_force else None,
        quantity=row.quantity, quote_order_qty=row.quote_order_qty, price=row.price,
        status=OrderStatus(row.status), executed_qty=row.executed_qty, cumm_quote_qty=row.cumm_quote_qty,
        locked=row.locked, fill_count=row.fill_count,
    )


def apply_outcome(row: Order, view: OrderView, outcome: Outcome, base: str, cache: BalanceCache | None = None,
                  positions_cache: dict[tuple[int, str], PositionState] | None = None) -> list[PositionState]:
    """Persist an engine outcome: fills, ledger entries, positions and the order's new state."""
    now = now_ms()
    if outcome.fills:
        Fill.insert_many([
            {"order_id": row.id, "seq": f.seq, "price": f.price, "qty": f.qty, "quote_qty": f.quote_qty,
             "commission": f.commission, "commission_asset": f.commission_asset, "created_at": now}
            for f in outcome.fills
        ]).execute()
    post_entries(outcome.entries, now, cache)
    positions = []
    if outcome.fills:
        key = (row.user_id, base)
        pos = positions_cache.get(key) if positions_cache is not None else None
        pos = pos or load_position(row.user_id, base)
        for f in outcome.fills:
            pos = apply_fill(pos, view.side, f)
        save_position(row.user_id, pos)
        if positions_cache is not None:
            positions_cache[key] = pos
        positions.append(pos)
    row.status = outcome.status.value
    row.executed_qty = outcome.executed_qty
    row.cumm_quote_qty = outcome.cumm_quote_qty
    row.locked = outcome.locked
    row.fill_count = view.fill_count + len(outcome.fills)
    row.reject_reason = outcome.reason
    row.updated_at = now
    row.version = row.version + 1
    updated = (Order.update(status=row.status, executed_qty=row.executed_qty, cumm_quote_qty=row.cumm_quote_qty,
                            locked=row.locked, fill_count=row.fill_count, reject_reason=row.reject_reason,
                            updated_at=now, version=row.version)
               .where((Order.id == row.id) & (Order.version == row.version - 1)).execute())
    if updated != 1:
        raise LedgerError(f"order {row.id} changed underneath its single writer")
    return positions


def load_position(user_id: int, asset: str) -> PositionState:
    row = Position.get_or_none((Position.user_id == user_id) & (Position.asset == asset))
    if row is None:
        return PositionState(asset)
    return PositionState(asset, row.quantity, row.avg_entry, row.realized_pnl)


def save_position(user_id: int, pos: PositionState) -> None:
    (Position.insert(user_id=user_id, asset=pos.asset, quantity=pos.quantity, avg_entry=pos.avg_entry,
                     realized_pnl=pos.realized_pnl)
     .on_conflict(conflict_target=[Position.user_id, Position.asset],
                  update={Position.quantity: pos.quantity, Position.avg_entry: pos.avg_entry,
                          Position.realized_pnl: pos.realized_pnl})
     .execute())


def fills_of(order_ids: list[int]) -> dict[int, list[Fill]]:
    out: dict[int, list[Fill]] = {}
    if not order_ids:
        return out
    for f in Fill.select().where(Fill.order_id.in_(order_ids)).order_by(Fill.order_id, Fill.seq):
        out.setdefault(f.order_id, []).append(f)
    return out


def count_open_orders(user_id: int) -> int:
    open_states = [OrderStatus.PENDING.value, OrderStatus.NEW.value, OrderStatus.PARTIALLY_FILLED.value]
    return (Order.select(fn.COUNT(Order.id)).where((Order.user_id == user_id) & (Order.status.in_(open_states)))
            .scalar() or 0)
