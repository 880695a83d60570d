"""An account reset inside a shard's batch, without a thread or Redis (the Executor actor feeds it).

Before the desk runs, `plan` numbers each reset not done yet (its `account_reset` row, unique by
request key, is its dedupe) and takes the equity it starts from; the desk then journals its part with
the batch's desk inputs (`CfdDesk.run(..., resets)`); `apply` does the spot part in a savepoint
(`ExecutorCore.reset`), writes the row and the RESET equity point, and says how to answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from app.cfd.desk import NO_PRICE_TO_CLOSE
from app.clock import now_ms
from app.domain.answers import Answer, RejectionKind
from app.domain.reset import reset_account_of
from app.execution.core import ExecutorCore
from app.faults import crash_point
from app.history import reset_json
from app.messages import Reply, ResetAccount
from app.persistence.db import db
from app.persistence.equity import add_points, add_reset, reset_by_key, reset_count

log = logging.getLogger(__name__)

EquityOf = Callable[[int], Decimal]


@dataclass(frozen=True, slots=True)
class ResetPlan:
    """A reset not done yet, numbered in its batch; `before`: the user's equity before anything of it."""

    number: int
    tag: str  # u<user>r<number>: the ids of its desk inputs and ledger entries
    before: Decimal


def plan(resets: list[ResetAccount], equity_of: EquityOf) -> dict[str, ResetPlan]:
    """By request key, the resets of this batch that have not taken effect yet."""
    plans: dict[str, ResetPlan] = {}
    numbers: dict[int, int] = {}
    for msg in resets:
        if msg.request_key in plans or reset_by_key(msg.request_key) is not None:
            continue
        uid = msg.user_id
        number = numbers[uid] = (numbers.get(uid) or reset_count(uid)) + 1
        plans[msg.request_key] = ResetPlan(number, f"u{uid}r{number}", equity_of(uid))
    return plans


def apply(msg: ResetAccount, planned: ResetPlan | None, closed: int, core: ExecutorCore, equity_of: EquityOf,
          wallet: tuple[tuple[str, Decimal], ...], marks: Mapping[str, Decimal], shard: int) -> Reply | None:
    """The spot part, after the desk's (`closed`: the positions it closed); None: it failed, deliver it again."""
    done = reset_by_key(msg.request_key)
    if done is not None or planned is None:  # done before (a retry, a redelivery, a repeat in this batch)
        assert done is not None
        return Reply.ok(msg.msg_id, Answer.OK, reset_json(done, repeated=True))
    if closed == NO_PRICE_TO_CLOSE:
        return Reply.rejected(msg.msg_id, RejectionKind.STALE_PRICES, "STALE_PRICES",
                              "a CFD position's symbol has no price yet, so it cannot be closed; try again")
    mark = len(core.events)
    uid = msg.user_id
    try:
        with db.atomic():
            swept_from = equity_of(uid)  # after the desk's closes: their fees are trading, not the reset
            canceled = core.reset(uid, planned.tag, wallet, reset_account_of(shard), marks)
            now = now_ms()
            after = equity_of(uid)
            row = add_reset(uid, planned.number, msg.request_key, now, planned.before, after, canceled, closed)
            add_points([(uid, now, after, after - swept_from, "RESET")])
            crash_point("executor.reset")
    except Exception:
        log.exception("reset %s failed; it will be retried", msg.request_key)
        del core.events[mark:]
        core.balances.clear()
        core.positions.clear()
        return None
    return Reply.ok(msg.msg_id, Answer.OK, reset_json(row))
