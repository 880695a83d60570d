"""Double-entry postings: every movement of money is a set of legs that sums to zero per asset."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from app.money import ZERO

HOUSE_GENESIS = "house:genesis"  # source of the starting wallets


@dataclass(frozen=True, slots=True)
class House:
    """The simulated market's own accounts: counterparty of every fill, and collected fees.

    Each executor shard books against its own pair, so every balance row has exactly one writer
    (no cross-shard row contention, no lock-order deadlocks); the house total is their sum.
    """

    exchange: str
    fees: str


def house_of_shard(shard: int) -> House:
    return House(f"house:exchange:{shard}", f"house:fees:{shard}")


def user_free(user_id: int) -> str:
    return f"user:{user_id}:free"


def user_locked(user_id: int) -> str:
    return f"user:{user_id}:locked"


def is_user_account(account: str) -> bool:
    return account.startswith("user:")


@dataclass(frozen=True, slots=True)
class Posting:
    account: str
    asset: str
    delta: Decimal
    leg: str  # unique within its reference, so a replay cannot book it twice


@dataclass(frozen=True, slots=True)
class Entry:
    """One balanced journal entry: `ref` is unique across the whole ledger."""

    ref_type: str
    ref_id: str
    kind: str
    postings: tuple[Posting, ...]

    def __post_init__(self) -> None:
        sums: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for p in self.postings:
            sums[p.asset] += p.delta
        unbalanced = {a: s for a, s in sums.items() if s != 0}
        if unbalanced:
            raise ValueError(f"unbalanced entry {self.ref_type}/{self.ref_id}: {unbalanced}")
        legs = [p.leg for p in self.postings]
        if len(set(legs)) != len(legs):
            raise ValueError(f"duplicate legs in {self.ref_type}/{self.ref_id}")


def transfer(ref_type: str, ref_id: str, kind: str, asset: str, amount: Decimal,
             source: str, target: str) -> Entry:
    return Entry(ref_type, ref_id, kind, (
        Posting(source, asset, -amount, "src"),
        Posting(target, asset, amount, "dst"),
    ))


def net_changes(entries: Iterable[Entry]) -> dict[tuple[str, str], Decimal]:
    """Sum of deltas per (account, asset) over several entries."""
    out: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for e in entries:
        for p in e.postings:
            out[(p.account, p.asset)] += p.delta
    return dict(out)
