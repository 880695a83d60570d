"""Reads of the CFD desk's projection (the engine's journal is the truth; these rows follow it)."""

from __future__ import annotations

from decimal import Decimal

from app.money import ZERO
from app.persistence.models import CfdAccount, CfdPosition


def cfd_position_opened_by(user_id: int, cmd_id: str) -> CfdPosition | None:
    """The position a user's open command created (how a repeated open is answered)."""
    return CfdPosition.get_or_none((CfdPosition.cmd_id == cmd_id) & (CfdPosition.user_id == user_id))


def cfd_balance(user_id: int) -> Decimal:
    """A user's free CFD margin as the database last saw it (zero before the first desk command)."""
    account = CfdAccount.get_or_none(CfdAccount.user_id == user_id)
    return ZERO if account is None else account.balance
