"""The CFD desk's database projection: every statement on `cfd_position`, `cfd_account` and
`cfd_cursor`. The engine's journal is the truth; these rows are what the API reads, written by the
desk inside its Executor's transaction."""

from __future__ import annotations

from decimal import Decimal

from app.money import ZERO
from app.persistence.models import CfdAccount, CfdCursor, CfdPosition

LIST_LIMIT = 200


# --- the desk's writes (inside the Executor's transaction) -------------------------------------------
def cursor(shard: int) -> int:
    """The last engine input whose effects the database holds (0 before the first)."""
    row = CfdCursor.get_or_none(CfdCursor.shard == shard)
    return row.seq if row else 0


def set_cursor(shard: int, seq: int) -> None:
    CfdCursor.insert(shard=shard, seq=seq).on_conflict(
        conflict_target=[CfdCursor.shard], update={CfdCursor.seq: seq}).execute()


def insert_opened(position_id: int, cmd_id: str, open_fee: Decimal, opened_at: int, **fields: object) -> None:
    """A position the engine opened (a replay of the same input changes nothing)."""
    CfdPosition.insert(id=position_id, cmd_id=cmd_id, open_fee=open_fee, opened_at=opened_at,
                       **fields).on_conflict_ignore().execute()


def update_stops(position_id: int, stop_loss: Decimal | None, take_profit: Decimal | None) -> None:
    CfdPosition.update(stop_loss=stop_loss, take_profit=take_profit,
                       version=CfdPosition.version + 1).where(CfdPosition.id == position_id).execute()


def record_close(position_id: int, kind: str, exit_price: Decimal, pnl: Decimal, fee: Decimal, payout: Decimal,
                 closed_at: int) -> None:
    CfdPosition.update(status=kind, exit_price=exit_price, pnl=pnl, close_fee=fee, payout=payout,
                       closed_at=closed_at, version=CfdPosition.version + 1).where(
        CfdPosition.id == position_id).execute()


def set_balance(user_id: int, balance: Decimal, now: int) -> None:
    CfdAccount.insert(user_id=user_id, balance=balance, updated_at=now).on_conflict(
        conflict_target=[CfdAccount.user_id], update={CfdAccount.balance: balance, CfdAccount.updated_at: now}
    ).execute()


# --- reads, always scoped to one user -------------------------------------------------------------
def open_positions(user_id: int) -> list[CfdPosition]:
    """A user's open positions by id (the WebSocket snapshot's order)."""
    return list(CfdPosition.select().where((CfdPosition.user_id == user_id) & (CfdPosition.status == "OPEN"))
                .order_by(CfdPosition.id))


def positions(user_id: int, open_: bool) -> list[CfdPosition]:
    """A user's open (or closed) positions, newest first, at most LIST_LIMIT."""
    q = CfdPosition.select().where(CfdPosition.user_id == user_id)
    q = q.where(CfdPosition.status == "OPEN") if open_ else q.where(CfdPosition.status != "OPEN")
    return list(q.order_by(CfdPosition.opened_at.desc(), CfdPosition.id.desc()).limit(LIST_LIMIT))


def position(user_id: int, position_id: int) -> CfdPosition | None:
    """Another user's position is None, exactly like a missing one."""
    return CfdPosition.get_or_none((CfdPosition.id == position_id) & (CfdPosition.user_id == user_id))


def cfd_position_opened_by(user_id: int, cmd_id: str) -> CfdPosition | None:
    """The position a user's open command created (how a repeated open is answered)."""
    return CfdPosition.get_or_none((CfdPosition.cmd_id == cmd_id) & (CfdPosition.user_id == user_id))


def cfd_balance(user_id: int) -> Decimal:
    """A user's free CFD margin as the database last saw it (zero before the first desk command)."""
    account = CfdAccount.get_or_none(CfdAccount.user_id == user_id)
    return ZERO if account is None else account.balance
