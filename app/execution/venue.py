"""The Venue port: what an exchange does for the Executor, and what it may ask of the Executor's core.

A venue executes (the simulator by its matching rules, Binance over REST) and REPORTS what
happened; it never writes an order row or an event itself. The core (`app/execution/core.py`)
is the one place where a report becomes rows and events.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from app.domain.execution import Outcome
from app.messages import CancelOrder, PriceTick, SubmitOrder

if TYPE_CHECKING:
    from app.persistence.models import Order


class Engine(Protocol):
    """The executor's core as a venue sees it: where reports go, and the balances it may spend."""

    def order(self, row: Order, outcome: Outcome, exchange_order_id: int | None = None) -> None:
        """Apply `outcome` to the order `row` (and remember the exchange's id for it)."""

    def exchange_balances(self, user_id: int, rows: list[tuple[str, Decimal, Decimal]], at: int) -> None:
        """The exchange reported the account's balances (asset, free, locked) as of `at`."""

    def free(self, user_id: int) -> Mapping[str, Decimal]:
        """The account's free balances by asset, as the single writer knows them."""


class Venue(Protocol):
    """Where orders execute. One Executor drives either implementation the same way."""

    # Reads `topic:market`: it matches against quotes itself.
    market_data: bool
    # Its reports are applied inside the batch's transaction (it does no I/O of its own, and the CFD
    # desk can share that transaction); otherwise each report commits on its own, because no call to
    # an exchange may happen inside a database transaction.
    atomic: bool
    # How often `reconcile` should run, in seconds; None: only as often as the shard lease is renewed.
    timer_s: float | None

    def start(self, ticks: list[PriceTick]) -> None:
        """Rebuild in-memory state at start (the latest ticks the feed left, the open orders)."""

    def reset(self) -> None:
        """A transaction rolled back: in-memory state may be ahead of the database; reload it."""

    def submit(self, row: Order, engine: Engine) -> bool:
        """Execute (or find again) the order of a SubmitOrder; False: not done, deliver the command again."""

    def cancel(self, row: Order, engine: Engine) -> bool:
        """Cancel the order (and its OCO list); False: not done, deliver the command again."""

    def quiet_quote(self, tick: PriceTick) -> bool:
        """Take in a tick that changes no order; False (the tick not taken) when `on_quote` has work."""

    def on_quote(self, tick: PriceTick, engine: Engine) -> None:
        """React to a new quote: fill, trigger or trail the orders it reaches (in the batch's transaction)."""

    def reconcile(self, engine: Engine) -> None:
        """Timer work: follow orders whose fate is open at the exchange, refresh balances."""

    def track(self, row: Order) -> None:
        """An outcome was applied to `row`: keep any index of open orders up to date."""

    def give_up(self, msg: SubmitOrder | CancelOrder) -> str | None:
        """A command failed too often: the reason to reject its still-PENDING order with, or None to leave
        the order alone (it may exist at the exchange; `reconcile` owns it)."""

    def close(self) -> None:
        """The actor stops: release connections."""
