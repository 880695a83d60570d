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
from app.money import ZERO, to_str
from app.persistence import sql
from app.persistence.models import Balance, CfdAccount, CfdPosition, Fill, LedgerRow, Order, Outbox, Position, now_ms


class LedgerError(RuntimeError):
    """A posting would take a user's balance below zero: a bug, never a user error."""


# --- ledger -------------------------------------------------------------------------------------

class BalanceCache:
    """Balances of the accounts one writer owns, kept in memory after the first read.

    Valid only for a single writer per account (an executor shard); clear it when a transaction
    rolls back, and it reloads from the database on the next use.
    """

    def __init__(self) -> None:
        self._accounts: dict[str, dict[str, Decimal]] = {}

    def account(self, account: str) -> dict[str, Decimal]:
        """The account's balances by asset (loaded once; the dict is the cache itself)."""
        assets = self._accounts.get(account)
        if assets is None:
            assets = {r.asset: r.amount for r in Balance.select().where(Balance.account == account)}
            self._accounts[account] = assets
        return assets

    def clear(self) -> None:
        self._accounts.clear()


def post_entries(entries: Iterable[Entry], now: int | None = None,
                 cache: BalanceCache | None = None) -> dict[tuple[str, str], Decimal]:
    """Append the entries' legs to the ledger and update the balance rows; returns new balances.

    Rows are updated in sorted key order, so concurrent writers can never deadlock on them.
    """
    entries = list(entries)
    if not entries:
        return {}
    now = now or now_ms()
    sql.execute_many(
        "INSERT INTO ledger (account, asset, delta, kind, ref_type, ref_id, leg, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        ((p.account, p.asset, to_str(p.delta), e.kind, e.ref_type, e.ref_id, p.leg, now)
         for e in entries for p in e.postings))
    changes = net_changes(entries)
    cache = cache or BalanceCache()
    out: dict[tuple[str, str], Decimal] = {}
    inserts, updates = [], []
    for key in sorted(changes):
        old = cache.account(key[0]).get(key[1])
        new = (old or ZERO) + changes[key]
        if new < 0 and is_user_account(key[0]):
            raise LedgerError(f"{key[0]} {key[1]} would go negative ({new})")
        if old is None:
            inserts.append((key[0], key[1], to_str(new)))
        else:
            updates.append((to_str(new), key[0], key[1]))
        out[key] = new
    sql.execute_many("INSERT INTO balance (account, asset, amount) VALUES (?, ?, ?)", inserts)
    sql.execute_many("UPDATE balance SET amount = ? WHERE account = ? AND asset = ?", updates)
    for (account, asset), amount in out.items():
        cache.account(account)[asset] = amount
    return out




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
    sql.execute_many("INSERT INTO outbox (id, origin, stream, payload, created_at) VALUES (?, ?, ?, ?, ?)",
                     ((i, origin, st, p.decode(), time.time_ns() // 1_000_000) for i, st, p in out))
    return out


def outbox_pending(origin: str) -> list[tuple[str, str, bytes]]:
    rows = Outbox.select().where(Outbox.origin == origin).order_by(Outbox.id)
    return [(r.id, r.stream, r.payload.encode()) for r in rows]


def outbox_delete(ids: list[str]) -> None:
    for i in range(0, len(ids), 500):
        Outbox.delete().where(Outbox.id.in_(ids[i:i + 500])).execute()


def inbox_add(consumer: str, msg_id: str) -> bool:
    """Record a consumed message in the effect's transaction; False if it was already recorded."""
    cursor = sql.execute("INSERT INTO inbox (consumer, msg_id, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                         (consumer, msg_id, now_ms()))
    return bool(cursor.rowcount)


# --- orders -------------------------------------------------------------------------------------

def order_view(row: Order) -> OrderView:
    return OrderView(
        id=row.id, user_id=row.user_id, symbol=row.symbol, side=Side(row.side), type=OrderType(row.type),
        time_in_force=TimeInForce(row.time_in_force) if row.time_in_force else None,
        quantity=row.quantity, quote_order_qty=row.quote_order_qty, price=row.price,
        status=OrderStatus(row.status), executed_qty=row.executed_qty, cumm_quote_qty=row.cumm_quote_qty,
        locked=row.locked, fill_count=row.fill_count, stop_price=row.stop_price, trailing_delta=row.trailing_delta,
        trail_extreme=row.trail_extreme, triggered=bool(row.triggered), order_list_id=row.order_list_id,
    )


def apply_outcome(row: Order, view: OrderView, outcome: Outcome, base: str, cache: BalanceCache | None = None,
                  positions_cache: dict[tuple[int, str], PositionState] | None = None) -> list[PositionState]:
    """Persist an engine outcome: fills, ledger entries, positions and the order's new state."""
    now = now_ms()
    sql.execute_many(
        "INSERT INTO fill (order_id, seq, price, qty, quote_qty, commission, commission_asset, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        ((row.id, f.seq, to_str(f.price), to_str(f.qty), to_str(f.quote_qty), to_str(f.commission),
          f.commission_asset, now) for f in outcome.fills))
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
    if outcome.trail_extreme is not None:
        row.trail_extreme = outcome.trail_extreme
    if outcome.triggered is not None:
        row.triggered = outcome.triggered
    updated = sql.execute(
        'UPDATE "order" SET status = ?, executed_qty = ?, cumm_quote_qty = ?, locked = ?, fill_count = ?, '
        "reject_reason = ?, updated_at = ?, version = ?, trail_extreme = ?, triggered = ? WHERE id = ? AND version = ?",
        (row.status, to_str(row.executed_qty), to_str(row.cumm_quote_qty), to_str(row.locked), row.fill_count,
         row.reject_reason, now, row.version, sql.money(row.trail_extreme), bool(row.triggered), row.id,
         row.version - 1)).rowcount
    if updated != 1:
        raise LedgerError(f"order {row.id} changed underneath its single writer")
    return positions


def load_position(user_id: int, asset: str) -> PositionState:
    row = Position.get_or_none((Position.user_id == user_id) & (Position.asset == asset))
    if row is None:
        return PositionState(asset)
    return PositionState(asset, row.quantity, row.avg_entry, row.realized_pnl)


def save_position(user_id: int, pos: PositionState) -> None:
    sql.execute("INSERT INTO position (user_id, asset, quantity, avg_entry, realized_pnl) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (user_id, asset) DO UPDATE SET quantity = excluded.quantity, "
                "avg_entry = excluded.avg_entry, realized_pnl = excluded.realized_pnl",
                (user_id, pos.asset, to_str(pos.quantity), to_str(pos.avg_entry), to_str(pos.realized_pnl)))


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


# --- the CFD desk's projection -------------------------------------------------------------------
def cfd_position_opened_by(user_id: int, cmd_id: str) -> CfdPosition | None:
    """The position a user's open command created (how a repeated open is answered)."""
    return CfdPosition.get_or_none((CfdPosition.cmd_id == cmd_id) & (CfdPosition.user_id == user_id))


def cfd_balance(user_id: int) -> Decimal:
    """A user's free CFD margin as the database last saw it (zero before the first desk command)."""
    account = CfdAccount.get_or_none(CfdAccount.user_id == user_id)
    return ZERO if account is None else account.balance
