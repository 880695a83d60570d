"""The closed set of user events: what an Executor transaction tells one user, in domain values.

An event holds Decimals, enums and frozen records, never JSON: the actors build them, `EventBatch`
(app/messages.py) carries them, and each interface renders them at its edge (the browser WebSocket:
web/ws_render.py, with the same order, balance and position JSON as the REST bodies of app/render.py).
A second interface is one more renderer. `USER_EVENTS` is the whole set; the codec refuses anything else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

from app.cfd.inputs import Event as CfdEvent
from app.cfd.rules import Position as CfdPosition
from app.domain.orders import OrderStatus, OrderType, Side, TimeInForce
from app.domain.positions import Position


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """An order as it stands after an update (the `order` row's columns, typed)."""

    id: int
    client_order_id: str
    symbol: str
    side: Side
    type: OrderType
    time_in_force: TimeInForce | None
    price: Decimal | None
    quantity: Decimal | None
    quote_order_qty: Decimal | None
    executed_qty: Decimal
    cumm_quote_qty: Decimal
    status: OrderStatus
    reject_reason: str | None
    stop_price: Decimal | None
    trailing_delta: int | None
    triggered: bool
    order_list_id: int | None
    created_at: int
    updated_at: int
    version: int
    api_key_id: int | None = None  # the key that placed it through the Binance-compatible API


@dataclass(frozen=True, slots=True)
class OrderFill:
    """One fill as the user sees it (the ledger's side of it stays in the Executor)."""

    seq: int
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    maker: bool = False  # a resting order's fill; the market tape shows the taker's side from it


@dataclass(frozen=True, slots=True)
class Balance:
    asset: str
    free: Decimal
    locked: Decimal


def order_record(row: Any) -> OrderRecord:
    """The typed record of an order row (or anything with its columns)."""
    tif = row.time_in_force
    return OrderRecord(
        id=row.id, client_order_id=row.client_order_id, symbol=row.symbol, side=Side(row.side),
        type=OrderType(row.type), time_in_force=TimeInForce(tif) if tif else None, price=row.price,
        quantity=row.quantity, quote_order_qty=row.quote_order_qty, executed_qty=row.executed_qty,
        cumm_quote_qty=row.cumm_quote_qty, status=OrderStatus(row.status), reject_reason=row.reject_reason,
        stop_price=row.stop_price, trailing_delta=row.trailing_delta, triggered=bool(row.triggered),
        order_list_id=row.order_list_id, created_at=row.created_at, updated_at=row.updated_at, version=row.version,
        api_key_id=getattr(row, "api_key_id", None))


def order_fill(fill: Any) -> OrderFill:
    """A fill row or `FillRecord`, as the user sees it."""
    return OrderFill(fill.seq, fill.price, fill.qty, fill.commission, fill.commission_asset,
                     bool(getattr(fill, "maker", False)))


# --- the events --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class UserEvent:
    """Something one user is told about; `cause` names the change (dedupe and the batch's msg_id)."""

    KIND: ClassVar[str]  # the event's name on every interface (the WebSocket frame's `type`)
    user_id: int
    cause: str


@dataclass(frozen=True, slots=True)
class OrderUpdated(UserEvent):
    """An order changed; `fills` are the fills of this update only."""

    KIND: ClassVar[str] = "ORDER_UPDATE"
    order: OrderRecord
    fills: tuple[OrderFill, ...] = ()
    trace: dict[str, int] | None = field(default=None, compare=False)  # the order's hops (app/hops.py)


@dataclass(frozen=True, slots=True)
class BalancesChanged(UserEvent):
    """Free and locked of the assets the change touched (the exchange's account: all of them)."""

    KIND: ClassVar[str] = "BALANCE_UPDATE"
    balances: tuple[Balance, ...]


@dataclass(frozen=True, slots=True)
class PositionsChanged(UserEvent):
    """The spot positions a fill moved."""

    KIND: ClassVar[str] = "POSITION_UPDATE"
    positions: tuple[Position, ...]


@dataclass(frozen=True, slots=True)
class CfdChanged(UserEvent):
    """What the CFD desk did for the user (`event`: OPENED, UPDATED, a close kind, TRANSFERRED or
    REJECTED), with the margin account's balance after the batch. Fields the kind does not have are None."""

    KIND: ClassVar[str] = "CFD_UPDATE"
    event: str
    account_balance: Decimal
    cmd_id: str | None = None
    position: CfdPosition | None = None
    exit_price: Decimal | None = None
    pnl: Decimal | None = None
    fee: Decimal | None = None
    amount: Decimal | None = None
    payout: Decimal | None = None
    balance: Decimal | None = None
    reason: str | None = None
    field: str | None = None
    code: str | None = None

    @classmethod
    def of(cls, ev: CfdEvent, cause: str, account_balance: Decimal) -> CfdChanged:
        """The user event of one engine event."""
        d = ev.data
        return cls(ev.user_id, cause, event=ev.kind, account_balance=account_balance, cmd_id=d.get("cmdId"),
                   position=d.get("position"), exit_price=d.get("exitPrice"), pnl=d.get("pnl"), fee=d.get("fee"),
                   amount=d.get("amount"), payout=d.get("payout"), balance=d.get("balance"),
                   reason=d.get("reason"), field=d.get("field"), code=d.get("code"))


USER_EVENTS: dict[str, type[UserEvent]] = {cls.KIND: cls for cls in (OrderUpdated, BalancesChanged,
                                                                        PositionsChanged, CfdChanged)}
