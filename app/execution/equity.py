"""A shard's equity points: who records the equity curve, and from what.

The Executor shard is its accounts' single writer, so it knows their balances (its `BalanceCache`)
and sees every price tick; it records each user's equity (`app/history.valuation`: spot balances at
marks plus CFD equity) once per clock minute on its timer, in a transaction of its own, and after any
batch that filled one of the user's orders, in that batch's transaction (at most one point per user
per batch). Points older than a week are thinned to one per user per hour (and every reset's), so
long ranges stay cheap to store and to read. CFD equity comes from the desk's projection, which the
batch has already brought up to date, and is read only for users the desk knows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from app.cfd.rules import Direction
from app.domain.symbols import SymbolSpec
from app.history import MINUTE_MS, QUOTE_ASSET, CfdHolding, holdings_of, valuation
from app.messages import PriceTick
from app.money import ZERO
from app.persistence.cfd_projection import cfd_balance, open_positions
from app.persistence.equity import PointRow, shard_cfd, shard_spot_balances, thin_points
from app.persistence.ledger import BalanceCache, balance_rows
from app.persistence.models import CfdPosition

HOUR_MS = 60 * MINUTE_MS
KEEP_MINUTES_MS = 7 * 24 * HOUR_MS  # points stay as recorded for a week, then one per hour


def holding(row: CfdPosition) -> CfdHolding:
    return CfdHolding(row.symbol, Direction(row.direction), row.entry_price, row.quantity, row.margin)


class EquityRecorder:
    def __init__(self, specs: Mapping[str, SymbolSpec], shard: int, shards: int) -> None:
        self.specs = specs
        self.shard, self.shards = shard, shards
        self.latest: dict[str, PriceTick] = {}
        self.minute = -1  # the clock minute last recorded
        self.thinned_hour = -1

    def see(self, ticks: Iterable[PriceTick]) -> None:
        """Keep the newest tick per symbol (an older one never moves a mark back)."""
        for t in ticks:
            known = self.latest.get(t.symbol)
            if t.symbol in self.specs and (known is None or known.ts <= t.ts):
                self.latest[t.symbol] = t

    def marks(self) -> dict[str, Decimal]:
        """Price per base asset, from the symbols quoted in USDT."""
        return {self.specs[s].base: t.price for s, t in self.latest.items() if self.specs[s].quote == QUOTE_ASSET}

    def quotes(self) -> dict[str, tuple[Decimal, Decimal]]:
        return {s: (t.bid, t.ask) for s, t in self.latest.items()}

    def equity_of(self, user_id: int, balances: BalanceCache, on_desk: bool) -> Decimal:
        """The user's equity now, inside the writer's transaction; `on_desk`: the CFD desk knows the user."""
        holdings = holdings_of(balance_rows(user_id, balances))
        margin, positions = (cfd_balance(user_id), [holding(p) for p in open_positions(user_id)]) if on_desk \
            else (ZERO, [])
        return valuation(holdings, self.marks(), margin, positions, self.quotes()).total

    def due(self, now: int) -> bool:
        return now // MINUTE_MS != self.minute

    def thin(self, now: int) -> int:
        """Once an hour: points older than KEEP_MINUTES_MS are thinned to the last of each hour (and every
        reset's), so the table grows with hours, not fills; newer ones stay as recorded."""
        if now // HOUR_MS == self.thinned_hour:
            return 0
        self.thinned_hour = now // HOUR_MS
        return thin_points(self.shard, self.shards, now - KEEP_MINUTES_MS, HOUR_MS)

    def minute_points(self, now: int) -> list[PointRow]:
        """Every user of the shard with a balance or a desk account, from the database (two queries)."""
        self.minute = now // MINUTE_MS
        spot = shard_spot_balances(self.shard, self.shards)
        margins, positions = shard_cfd(self.shard, self.shards)
        marks, quotes = self.marks(), self.quotes()
        rows: list[PointRow] = []
        for uid in sorted(set(spot) | set(margins)):
            value = valuation(holdings_of(spot.get(uid, [])), marks, margins.get(uid, ZERO),
                              [holding(p) for p in positions.get(uid, [])], quotes)
            rows.append((uid, now, value.total, ZERO, "MINUTE"))
        return rows
