"""An account reset's ledger entries: the old wallet swept out, the starting wallet given afresh.

Nothing is deleted: the sweep and the new deposit are ordinary balanced entries against the shard's
own reset account (`house:reset:<shard>`, one writer per balance row like every house account), so
the ledger still sums to zero per asset and the history before the reset stays as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from app.domain.ledger import Entry, transfer, user_free


def reset_account_of(shard: int) -> str:
    return f"house:reset:{shard}"


def reset_entries(user_id: int, tag: str, reset_account: str, free: Mapping[str, Decimal],
                  wallet: Iterable[tuple[str, Decimal]]) -> list[Entry]:
    """Sweep every free balance of the user to `reset_account`, then deposit `wallet` from it.

    `tag` names the reset (`u<user>r<number>`): with the asset it makes each entry's reference unique, so
    the same reset can never be booked twice. Locked balances must be zero (orders canceled first).
    """
    entries = [transfer("reset", f"{tag}/{asset}/out", "reset_sweep", asset, amount, user_free(user_id),
                        reset_account)
               for asset, amount in sorted(free.items()) if amount > 0]
    entries += [transfer("reset", f"{tag}/{asset}/in", "reset_deposit", asset, amount, reset_account,
                         user_free(user_id))
                for asset, amount in wallet if amount > 0]
    return entries
