"""What the CFD engine is driven by (commands and price ticks) and what it answers with (events): pure
values, so a journal line, a replay and a live batch hold the same things."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.cfd.rules import CfdError, Direction

GRANT = "grant:"  # the id prefix of the house's starting-margin deposits: they never touch the spot wallet


def is_grant(cmd_id: str) -> bool:
    return cmd_id.startswith(GRANT)


@dataclass(frozen=True, slots=True)
class Deposit:
    cmd_id: str
    user_id: int
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Withdraw:
    cmd_id: str
    user_id: int
    amount: Decimal


@dataclass(frozen=True, slots=True)
class OpenPosition:
    cmd_id: str
    user_id: int
    symbol: str
    direction: Direction
    margin: Decimal
    leverage: Decimal
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Amend:
    """New stop-loss / take-profit; `clear_*` removes one."""

    cmd_id: str
    user_id: int
    position_id: int
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    clear_stop_loss: bool = False
    clear_take_profit: bool = False


@dataclass(frozen=True, slots=True)
class ClosePosition:
    cmd_id: str
    user_id: int
    position_id: int


@dataclass(frozen=True, slots=True)
class Tick:
    symbol: str
    bid: Decimal
    ask: Decimal
    mark: Decimal
    ts: int


Command = Deposit | Withdraw | OpenPosition | Amend | ClosePosition
Input = Command | Tick
INPUT_TYPES: tuple[type, ...] = (Deposit, Withdraw, OpenPosition, Amend, ClosePosition, Tick)


@dataclass(frozen=True, slots=True)
class Event:
    """What happened, in domain values (Positions, Decimals); `render.event_json` makes the wire form,
    so a tick pays for no formatting."""

    user_id: int
    kind: str  # OPENED UPDATED CLOSED STOP_LOSS TAKE_PROFIT LIQUIDATED REJECTED TRANSFERRED
    data: dict[str, Any]


CLOSE_KINDS = ("CLOSED", "STOP_LOSS", "TAKE_PROFIT", "LIQUIDATED")  # the events that end a position


def rejection(c: Command, exc: CfdError) -> Event:
    """The answer to a refused command (the engine's refusals and the desk's alike)."""
    return Event(c.user_id, "REJECTED", {"cmdId": c.cmd_id, "reason": exc.message, "field": exc.field,
                                         "code": exc.code})
