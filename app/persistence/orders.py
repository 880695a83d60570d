"""Orders and their fills: every read and write of the `order` and `fill` tables.

The hot path (load by id, insert, apply an outcome) is hand-written SQL through `sql`; its column
list is the model's own field list, so the statement and the table cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from peewee import fn

from app.clock import now_ms
from app.domain.execution import OrderView, Outcome
from app.domain.orders import CANCELABLE, OPEN, OrderStatus, OrderType, Side, TimeInForce
from app.domain.positions import Position as PositionState
from app.domain.positions import apply_fill
from app.money import to_str
from app.persistence import sql
from app.persistence.fields import MoneyField
from app.persistence.ledger import BalanceCache, LedgerError, post_entries
from app.persistence.models import Fill, Order
from app.persistence.positions import load_position, save_position

ORDER_FIELDS = tuple(f.name for f in Order._meta.sorted_fields)  # field name == column name (tested)
_MONEY = frozenset(f.name for f in Order._meta.sorted_fields if isinstance(f, MoneyField))
_SELECT_ORDER = f'SELECT {", ".join(ORDER_FIELDS)} FROM "order"'  # noqa: S608 - the model's column names


def _order(row: Sequence[Any]) -> Order:
    """An Order built from a row of `_SELECT_ORDER` (never saved through peewee: writes are statements)."""
    values = dict(zip(ORDER_FIELDS, row, strict=True))
    for key in _MONEY:
        if values[key] is not None:
            values[key] = Decimal(values[key])
    return Order(**values)


def order_by_id(order_id: int, user_id: int | None = None) -> Order | None:
    if user_id is None:
        row = sql.execute(f"{_SELECT_ORDER} WHERE id = ?", (order_id,)).fetchone()
    else:
        row = sql.execute(f"{_SELECT_ORDER} WHERE id = ? AND user_id = ?",
                          (order_id, user_id)).fetchone()
    return None if row is None else _order(row)


def order_list_ids(list_id: int) -> list[int]:
    """The orders of an OCO list, first leg first."""
    return [int(r[0]) for r in sql.execute('SELECT id FROM "order" WHERE order_list_id = ? ORDER BY id',
                                           (list_id,)).fetchall()]


def order_list(list_id: int) -> list[Order]:
    """The rows of an OCO list, first leg first."""
    return [r for r in (order_by_id(i) for i in order_list_ids(list_id)) if r is not None]


def legs_of(row: Order) -> list[Order]:
    """The orders a command on `row` acts on: `row` itself, or both legs of its OCO list (first leg first)."""
    return [row] if row.order_list_id is None else order_list(row.order_list_id)


def order_by_client_id(user_id: int, client_order_id: str) -> Order | None:
    row = sql.execute(f"{_SELECT_ORDER} WHERE user_id = ? AND client_order_id = ?",
                      (user_id, client_order_id)).fetchone()
    return None if row is None else _order(row)


_INSERT_COLUMNS = tuple(c for c in ORDER_FIELDS if c != "id")
_INSERT_ORDER = (f'INSERT INTO "order" ({", ".join(_INSERT_COLUMNS)}) '  # noqa: S608 - the model's column names
                 f'VALUES ({", ".join("?" * len(_INSERT_COLUMNS))}) RETURNING id')


def insert_order(values: dict[str, Any]) -> int:
    params = [sql.money(values.get(c)) if c in _MONEY else values.get(c) for c in _INSERT_COLUMNS]
    return int(sql.execute(_INSERT_ORDER, params).fetchone()[0])


def set_order_list_id(order_id: int, list_id: int) -> None:
    """An OCO's first leg learns its own id as the list id once it has one."""
    sql.execute('UPDATE "order" SET order_list_id = ? WHERE id = ?', (list_id, order_id))


def count_open_orders(user_id: int) -> int:
    """The user's orders that are not terminal (`CANCELABLE`), as MAX_OPEN_ORDERS counts them."""
    open_states = [s.value for s in CANCELABLE]
    return (Order.select(fn.COUNT(Order.id)).where((Order.user_id == user_id) & (Order.status.in_(open_states)))
            .scalar() or 0)


def pending_orders() -> list[tuple[int, int]]:
    """(id, user_id) of every PENDING order, for the Gateway to enqueue again at start-up."""
    return [(o.id, o.user_id) for o in
            Order.select(Order.id, Order.user_id).where(Order.status == OrderStatus.PENDING.value)]


def of_shard(user_id: Any, shard: int, shards: int) -> Any:
    """`user_id` belongs to `shard` (`app.messaging.names.shard_of`), as a condition the database evaluates.

    Spelled without `%` (peewee's `%` is LIKE, and psycopg reads it as a placeholder); ids are positive,
    so integer division truncates the same way on SQLite and PostgreSQL.
    """
    return (user_id - (user_id / shards) * shards) == shard


def resting_orders(shard: int, shards: int) -> list[Order]:
    """The shard's open orders that wait for a price (all but MARKET)."""
    return list(Order.select().where(Order.status.in_([s.value for s in OPEN])
                                     & (Order.type != OrderType.MARKET.value) & of_shard(Order.user_id, shard, shards)))


def user_orders(user_id: int, statuses: list[str] | None, symbol: str | None, limit: int,
                before_id: int | None, side: str | None = None, start: int | None = None,
                end: int | None = None) -> list[Order]:
    """A user's orders, newest first, `limit` of them at most; `start`..`end` (ms, end exclusive) on creation."""
    q = Order.select().where(Order.user_id == user_id)
    if statuses:
        q = q.where(Order.status.in_(statuses))
    if symbol:
        q = q.where(Order.symbol == symbol)
    if side:
        q = q.where(Order.side == side)
    if start is not None:
        q = q.where(Order.created_at >= start)
    if end is not None:
        q = q.where(Order.created_at < end)
    if before_id:
        q = q.where(Order.id < before_id)
    return list(q.order_by(Order.id.desc()).limit(limit))


def cancelable_orders(user_id: int, symbol: str | None) -> list[Order]:
    """The user's orders a cancel still has work to do on (`CANCELABLE`), oldest first; one symbol or all."""
    q = Order.select().where((Order.user_id == user_id) & (Order.status.in_([s.value for s in CANCELABLE])))
    if symbol:
        q = q.where(Order.symbol == symbol)
    return list(q.order_by(Order.id))


def fills_of(order_ids: list[int]) -> dict[int, list[Fill]]:
    out: dict[int, list[Fill]] = {}
    if not order_ids:
        return out
    for f in Fill.select().where(Fill.order_id.in_(order_ids)).order_by(Fill.order_id, Fill.seq):
        out.setdefault(f.order_id, []).append(f)
    return out


# --- EXCHANGE=binance: what was sent to the exchange -----------------------------------------------
def mark_sent(order_ids: Iterable[int], sent_at: int | None) -> None:
    """Record when orders were (last) sent to the exchange; None: not sent, they may be sent again."""
    sql.execute_many('UPDATE "order" SET exchange_sent_at = ? WHERE id = ?', ((sent_at, i) for i in order_ids))


def mark_list_unsent(list_id: int) -> None:
    sql.execute('UPDATE "order" SET exchange_sent_at = NULL WHERE order_list_id = ?', (list_id,))


def set_exchange_order_id(order_id: int, exchange_order_id: int) -> None:
    sql.execute('UPDATE "order" SET exchange_order_id = ? WHERE id = ?', (exchange_order_id, order_id))


def watched_orders(statuses: list[str], pending_before: int, shard: int, shards: int) -> list[int]:
    """Ids of the shard's sent orders in `statuses`, and of its PENDING ones created before `pending_before`."""
    watched = (Order.status.in_(statuses) & Order.exchange_sent_at.is_null(False)) | (
        (Order.status == OrderStatus.PENDING.value) & (Order.created_at < pending_before))
    ours = watched & of_shard(Order.user_id, shard, shards)
    return [o.id for o in Order.select(Order.id).where(ours).order_by(Order.id)]


# --- outcomes -------------------------------------------------------------------------------------
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
