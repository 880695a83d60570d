"""Equity points and account resets: every statement on `equity_point` and `account_reset`.

Points are written by the user's executor shard (its timer, its batches, a reset), in that writer's
transaction; the API reads them. A reset's row is written in the transaction that did the reset.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from peewee import fn

from app.history import Point
from app.money import ZERO, to_str
from app.persistence import sql
from app.persistence.models import AccountReset, Balance, CfdAccount, CfdPosition, EquityPoint, User
from app.persistence.orders import of_shard

PointRow = tuple[int, int, Decimal, Decimal, str]  # (user_id, at, equity, flow, reason)


def add_points(rows: Iterable[PointRow]) -> None:
    sql.execute_many("INSERT INTO equity_point (user_id, at, equity, flow, reason) VALUES (?, ?, ?, ?, ?)",
                     ((uid, at, to_str(equity), to_str(flow), reason) for uid, at, equity, flow, reason in rows))


def points(user_id: int, start: int, end: int) -> list[Point]:
    """A user's points with start <= at < end, in time order."""
    q = (EquityPoint.select(EquityPoint.at, EquityPoint.equity, EquityPoint.flow, EquityPoint.reason)
         .where((EquityPoint.user_id == user_id) & (EquityPoint.at >= start) & (EquityPoint.at < end))
         .order_by(EquityPoint.at, EquityPoint.id))
    return [Point(r.at, r.equity, r.flow, r.reason) for r in q]


def last_point_before(user_id: int, at: int) -> Point | None:
    r = (EquityPoint.select(EquityPoint.at, EquityPoint.equity, EquityPoint.flow, EquityPoint.reason)
         .where((EquityPoint.user_id == user_id) & (EquityPoint.at < at))
         .order_by(EquityPoint.at.desc(), EquityPoint.id.desc()).first())
    return None if r is None else Point(r.at, r.equity, r.flow, r.reason)


# --- what a shard's minute points are computed from --------------------------------------------------
def shard_users(shard: int, shards: int) -> list[int]:
    return [u.id for u in User.select(User.id).where(of_shard(User.id, shard, shards)).order_by(User.id)]


def shard_spot_balances(shard: int, shards: int) -> dict[int, list[tuple[str, Decimal, Decimal]]]:
    """(asset, free, locked) per user of the shard, from the balance rows (one query)."""
    users = set(shard_users(shard, shards))
    out: dict[int, dict[str, list[Decimal]]] = {}
    for row in Balance.select().where(Balance.account.startswith("user:")):
        _, uid_text, kind = row.account.split(":", 2)
        uid = int(uid_text)
        if uid not in users or kind not in ("free", "locked"):
            continue
        pair = out.setdefault(uid, {}).setdefault(row.asset, [ZERO, ZERO])
        pair[0 if kind == "free" else 1] += row.amount
    return {uid: [(a, f, lk) for a, (f, lk) in sorted(assets.items())] for uid, assets in out.items()}


def shard_cfd(shard: int, shards: int) -> tuple[dict[int, Decimal], dict[int, list[CfdPosition]]]:
    """The desk's projection for the users of a shard: free margin and open positions per user."""
    balances = {a.user_id: a.balance for a in CfdAccount.select().where(of_shard(CfdAccount.user_id, shard, shards))}
    open_: dict[int, list[CfdPosition]] = {}
    for p in CfdPosition.select().where((CfdPosition.status == "OPEN") & of_shard(CfdPosition.user_id, shard, shards)):
        open_.setdefault(p.user_id, []).append(p)
    return balances, open_


# --- resets ------------------------------------------------------------------------------------------
def reset_count(user_id: int) -> int:
    return AccountReset.select().where(AccountReset.user_id == user_id).count()


def reset_by_key(request_key: str) -> AccountReset | None:
    return AccountReset.get_or_none(AccountReset.request_key == request_key)


def add_reset(user_id: int, number: int, request_key: str, at: int, equity_before: Decimal, equity_after: Decimal,
              canceled_orders: int, closed_positions: int) -> AccountReset:
    return AccountReset.create(user_id=user_id, number=number, request_key=request_key, at=at,
                               equity_before=equity_before, equity_after=equity_after,
                               canceled_orders=canceled_orders, closed_positions=closed_positions)


def resets_of(user_id: int) -> list[AccountReset]:
    """A user's resets, oldest first."""
    return list(AccountReset.select().where(AccountReset.user_id == user_id).order_by(AccountReset.number))


def thin_points(shard: int, shards: int, before: int, bucket_ms: int) -> int:
    """Keep, of the shard's points older than `before`, the last of each user's `bucket_ms` bucket and every
    reset's (their flows say what was not PnL); delete the others. Returns how many went."""
    old = (EquityPoint.at < before) & of_shard(EquityPoint.user_id, shard, shards)
    kept = (EquityPoint.select(fn.MAX(EquityPoint.id)).where(old)
            .group_by(EquityPoint.user_id, EquityPoint.at / bucket_ms))
    return int(EquityPoint.delete().where(old & (EquityPoint.reason != "RESET") & EquityPoint.id.not_in(kept))
               .execute())
