"""The ledger and the balances it sums: balanced entries appended, balance rows kept in step.

Postings are batched hand-written INSERTs (they are on the order hot path).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from app.clock import now_ms
from app.domain.ledger import Entry, is_user_account, net_changes, user_free, user_locked
from app.money import ZERO, to_str
from app.persistence import sql
from app.persistence.models import Balance, LedgerRow
from app.render import balance_json  # the one JSON of a balance; re-exported for the read side


class LedgerError(RuntimeError):
    """A posting would take a user's balance below zero: a bug, never a user error."""


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

    def lock(self, keys: list[tuple[str, str]]) -> None:
        """Read these balance rows under a row lock, creating the missing ones, in key order (so writers that
        share rows never deadlock on them): for accounts that no single writer owns."""
        sql.execute_many("INSERT INTO balance (account, asset, amount) VALUES (?, ?, ?) "
                         "ON CONFLICT (account, asset) DO NOTHING", ((a, s, to_str(ZERO)) for a, s in keys))
        for account, asset in keys:
            row = sql.execute_locking("SELECT amount FROM balance WHERE account = ? AND asset = ?",
                                      (account, asset)).fetchone()
            self._accounts.setdefault(account, {})[asset] = Decimal(row[0])


def post_entries(entries: Iterable[Entry], now: int | None = None,
                 cache: BalanceCache | None = None) -> dict[tuple[str, str], Decimal]:
    """Append the entries' legs to the ledger and update the balance rows; returns new balances.

    With `cache`, the caller is the accounts' one writer (an executor shard) and the cached balances are
    current. Without it, other writers may book against the same rows at the same time (every registration
    books from the genesis account, on any web thread or node): the rows are read under a row lock
    (`BalanceCache.lock`), so on PostgreSQL each writer applies its change to the previous one's result
    instead of over it. Rows are updated in sorted key order, so concurrent writers can never deadlock.
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
    if cache is None:
        cache = BalanceCache()
        cache.lock(sorted(changes))
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
    return [balance_json(*row) for row in balance_rows(user_id, cache)]


def balance_rows(user_id: int, cache: BalanceCache | None = None) -> list[tuple[str, Decimal, Decimal]]:
    """(asset, free, locked) per asset the user holds, by asset."""
    cache = cache or BalanceCache()
    free, locked = cache.account(user_free(user_id)), cache.account(user_locked(user_id))
    return [(a, free.get(a, ZERO), locked.get(a, ZERO)) for a in sorted(set(free) | set(locked))]


def ledger_sums() -> dict[tuple[str, str], Decimal]:
    """Σ delta per (account, asset), summed exactly in Python (SQL SUM would use floats on SQLite)."""
    out: dict[tuple[str, str], Decimal] = {}
    for row in LedgerRow.select(LedgerRow.account, LedgerRow.asset, LedgerRow.delta).iterator():
        key = (row.account, row.asset)
        out[key] = out.get(key, ZERO) + row.delta
    return out
