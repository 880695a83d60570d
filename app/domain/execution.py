"""The simulated exchange's matching rules for spot orders, as pure functions.

The executor actor loads an order and the account's free balances, calls one of `place`,
`on_quote` or `cancel`, and persists the returned `Outcome` in one transaction. A fill that takes
liquidity (a market order, the part of a limit order that crosses when placed, a triggered order)
pays the taker fee; a resting order's fill pays the maker fee (`Fees`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from app.domain import book, triggers
from app.domain.book import Fill, Quote
from app.domain.ledger import Entry, House, Posting, transfer, user_free, user_locked
from app.domain.orders import LIMIT_TYPES, OPEN, TRIGGERED_TYPES, OrderStatus, OrderType, Side, TimeInForce
from app.domain.symbols import SymbolSpec
from app.money import ZERO, credit, debit, to_str


@dataclass(frozen=True, slots=True)
class Fees:
    """Commission rates: `maker` for a resting order's fills, `taker` for fills that take liquidity."""

    maker: Decimal
    taker: Decimal

    @classmethod
    def flat(cls, rate: Decimal) -> Fees:
        return cls(rate, rate)


@dataclass(frozen=True, slots=True)
class OrderView:
    """What the engine needs to know about an order."""

    id: int
    user_id: int
    symbol: str
    side: Side
    type: OrderType
    time_in_force: TimeInForce | None
    quantity: Decimal | None
    quote_order_qty: Decimal | None
    price: Decimal | None
    status: OrderStatus
    executed_qty: Decimal = ZERO
    cumm_quote_qty: Decimal = ZERO
    locked: Decimal = ZERO
    fill_count: int = 0
    stop_price: Decimal | None = None
    trailing_delta: int | None = None
    trail_extreme: Decimal | None = None
    triggered: bool = False
    order_list_id: int | None = None


@dataclass(frozen=True, slots=True)
class FillRecord:
    seq: int
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    net_base: Decimal  # base asset that changed hands for the user's position (after fees on a BUY)
    net_quote: Decimal  # quote paid (BUY, rounded up) or received after fees (SELL, rounded down)
    maker: bool = False  # a resting order's fill (maker fee); False: it took liquidity


@dataclass(frozen=True, slots=True)
class Outcome:
    status: OrderStatus
    executed_qty: Decimal
    cumm_quote_qty: Decimal
    locked: Decimal
    fills: tuple[FillRecord, ...] = ()
    entries: tuple[Entry, ...] = ()
    reason: str | None = None
    touched_assets: frozenset[str] = field(default_factory=frozenset)
    trail_extreme: Decimal | None = None  # set: the trailing extreme moved
    triggered: bool | None = None  # set: the trigger fired


def _reject(reason: str) -> Outcome:
    return Outcome(OrderStatus.REJECTED, ZERO, ZERO, ZERO, reason=reason)


def _settle(order: OrderView, spec: SymbolSpec, fill: Fill, seq: int, fee_rate: Decimal,
            source: str, house: House, maker: bool) -> tuple[FillRecord, Entry]:
    """Book one fill: the user pays from `source`, the house takes the other side and the fee."""
    uid = order.user_id
    if order.side is Side.BUY:
        cost = debit(fill.quote_qty)
        commission = debit(fill.qty * fee_rate)
        postings = [
            Posting(source, spec.quote, -cost, "pay"),
            Posting(house.exchange, spec.quote, cost, "house_in"),
            Posting(house.exchange, spec.base, -fill.qty, "house_out"),
            Posting(user_free(uid), spec.base, fill.qty - commission, "receive"),
        ]
        if commission:
            postings.append(Posting(house.fees, spec.base, commission, "fee"))
        record = FillRecord(seq, fill.price, fill.qty, fill.quote_qty, commission, spec.base,
                            fill.qty - commission, cost, maker)
    else:
        proceeds = credit(fill.quote_qty)
        commission = debit(proceeds * fee_rate)
        postings = [
            Posting(source, spec.base, -fill.qty, "pay"),
            Posting(house.exchange, spec.base, fill.qty, "house_in"),
            Posting(house.exchange, spec.quote, -proceeds, "house_out"),
            Posting(user_free(uid), spec.quote, proceeds - commission, "receive"),
        ]
        if commission:
            postings.append(Posting(house.fees, spec.quote, commission, "fee"))
        record = FillRecord(seq, fill.price, fill.qty, fill.quote_qty, commission, spec.quote,
                            fill.qty, proceeds - commission, maker)
    return record, Entry("order", f"{order.id}/fill/{seq}", "trade", tuple(postings))


def _settle_all(order: OrderView, spec: SymbolSpec, fills: list[Fill], fees: Fees,
                source: str, house: House, maker: bool = False) -> tuple[list[FillRecord], list[Entry]]:
    records, entries = [], []
    rate = fees.maker if maker else fees.taker
    for i, fill in enumerate(fills, start=order.fill_count + 1):
        record, entry = _settle(order, spec, fill, i, rate, source, house, maker)
        records.append(record)
        entries.append(entry)
    return records, entries


def place(order: OrderView, quote: Quote | None, spec: SymbolSpec, free: Mapping[str, Decimal],
          fees: Fees, house: House) -> Outcome:
    """Execute a PENDING order against the current quote and the account's free balances."""
    if quote is None:
        return _reject("no market price yet for this symbol; try again in a moment")
    if order.type is OrderType.MARKET:
        return _place_market(order, quote, spec, free, fees, house)
    if order.type in TRIGGERED_TYPES:
        return _place_trigger(order, quote, spec, free)
    if order.type is OrderType.LIMIT_MAKER and crosses(order, quote):
        return _reject("Order would immediately match and take.")
    return _place_limit(order, quote, spec, free, fees, house)


def _trigger_lock(order: OrderView, spec: SymbolSpec, quote: Quote) -> tuple[str, Decimal]:
    """What a waiting stop/take-profit order reserves: the base it sells, or the quote it may pay
    (its limit price, else its stop price, else the current ask, times the quantity)."""
    assert order.quantity is not None
    if order.side is Side.SELL:
        return spec.base, order.quantity
    reference = order.price if order.type in LIMIT_TYPES else (order.stop_price or quote.ask)
    assert reference is not None
    return spec.quote, debit(reference * order.quantity)


def _place_trigger(order: OrderView, quote: Quote, spec: SymbolSpec, free: Mapping[str, Decimal]) -> Outcome:
    last = quote.last_price
    if triggers.would_trigger_immediately(order.type, order.side, order.stop_price, last):
        return _reject("Order would trigger immediately.")
    asset, lock = _trigger_lock(order, spec, quote)
    if free.get(asset, ZERO) < lock:
        return _reject(f"insufficient balance: needs {to_str(lock)} {asset}, "
                              f"{to_str(free.get(asset, ZERO))} {asset} available")
    state = triggers.step(order.type, order.side, order.stop_price, order.trailing_delta, None, last)
    uid = order.user_id
    entry = transfer("order", f"{order.id}/lock", "lock", asset, lock, user_free(uid), user_locked(uid))
    return Outcome(OrderStatus.NEW, ZERO, ZERO, lock, (), (entry,), touched_assets=frozenset({spec.base, spec.quote}),
                   trail_extreme=state.extreme, triggered=False)


def _place_market(order: OrderView, quote: Quote, spec: SymbolSpec, free: Mapping[str, Decimal],
                  fees: Fees, house: House) -> Outcome:
    levels = book.levels(quote, spec, order.side)
    fills = book.walk(levels, spec, order.side, qty=order.quantity, quote_qty=order.quote_order_qty)
    if not fills:
        return _reject("order too small to fill at the current price")
    executed = book.total_qty(fills)
    notional = book.total_quote(fills)
    if order.quantity is not None and (err := spec.notional_error(notional)):
        return _reject(err)
    if order.side is Side.BUY:
        need, asset = sum((debit(f.quote_qty) for f in fills), ZERO), spec.quote
    else:
        need, asset = executed, spec.base
    if free.get(asset, ZERO) < need:
        return _reject(f"insufficient balance: needs {to_str(need)} {asset}, "
                              f"{to_str(free.get(asset, ZERO))} {asset} available")
    records, entries = _settle_all(order, spec, fills, fees, user_free(order.user_id), house)
    complete = order.quantity is None or executed == order.quantity
    return Outcome(OrderStatus.FILLED if complete else OrderStatus.EXPIRED, executed, notional, ZERO,
                   tuple(records), tuple(entries), touched_assets=frozenset({spec.base, spec.quote}))


def _lock_amount(order: OrderView, spec: SymbolSpec) -> tuple[str, Decimal]:
    assert order.quantity is not None and order.price is not None
    if order.side is Side.BUY:
        return spec.quote, debit(order.price * order.quantity)
    return spec.base, order.quantity


def _place_limit(order: OrderView, quote: Quote, spec: SymbolSpec, free: Mapping[str, Decimal],
                 fees: Fees, house: House) -> Outcome:
    assert order.quantity is not None and order.price is not None
    asset, lock = _lock_amount(order, spec)
    if free.get(asset, ZERO) < lock:
        return _reject(f"insufficient balance: needs {to_str(lock)} {asset}, "
                              f"{to_str(free.get(asset, ZERO))} {asset} available")
    levels = book.levels(quote, spec, order.side)
    fills = book.walk(levels, spec, order.side, qty=order.quantity, limit=order.price)
    executed = book.total_qty(fills)
    tif = order.time_in_force or TimeInForce.GTC
    if tif is TimeInForce.FOK and executed < order.quantity:
        return Outcome(OrderStatus.EXPIRED, ZERO, ZERO, ZERO, reason="FOK order could not be filled in full")
    if tif is TimeInForce.IOC and not fills:
        return Outcome(OrderStatus.EXPIRED, ZERO, ZERO, ZERO, reason="IOC order found nothing to fill")
    uid = order.user_id
    entries = [transfer("order", f"{order.id}/lock", "lock", asset, lock, user_free(uid), user_locked(uid))]
    records, fill_entries = _settle_all(order, spec, fills, fees, user_locked(uid), house)
    entries += fill_entries
    locked = lock - sum((_locked_use(order, r) for r in records), ZERO)
    state = replace(order, executed_qty=executed, cumm_quote_qty=book.total_quote(fills), locked=locked,
                    fill_count=order.fill_count + len(records))
    if executed == order.quantity:
        status = OrderStatus.FILLED
    elif tif is TimeInForce.IOC:
        status = OrderStatus.EXPIRED
    else:
        status = OrderStatus.PARTIALLY_FILLED if fills else OrderStatus.NEW
    return _finish(state, spec, status, records, entries)


def _locked_use(order: OrderView, record: FillRecord) -> Decimal:
    """How much of the order's lock a fill consumed."""
    return record.net_quote if order.side is Side.BUY else record.qty


def _finish(state: OrderView, spec: SymbolSpec, status: OrderStatus, records: list[FillRecord],
            entries: list[Entry]) -> Outcome:
    """Release whatever is still locked once the order is terminal (price improvement, remainder)."""
    locked = state.locked
    if status in (OrderStatus.FILLED, OrderStatus.EXPIRED, OrderStatus.CANCELED) and locked > 0:
        asset = spec.quote if state.side is Side.BUY else spec.base
        entries.append(transfer("order", f"{state.id}/unlock", "unlock", asset, locked,
                                user_locked(state.user_id), user_free(state.user_id)))
        locked = ZERO
    return Outcome(status, state.executed_qty, state.cumm_quote_qty, locked, tuple(records), tuple(entries),
                   touched_assets=frozenset({spec.base, spec.quote}))


def waiting_for_trigger(order: OrderView) -> bool:
    return order.type in TRIGGERED_TYPES and not order.triggered


def crosses(order: OrderView, quote: Quote) -> bool:
    """Whether the market reaches a limit order's price: the published book's best opposite level, else bid/ask."""
    assert order.price is not None
    if quote.bids or quote.asks:
        published = quote.asks if order.side is Side.BUY else quote.bids
        return bool(published) and book.at_or_better(order.side, published[0].price, order.price)
    return quote.ask <= order.price if order.side is Side.BUY else quote.bid >= order.price


def reacts_to(order: OrderView, quote: Quote) -> bool:
    """Whether this quote changes the order: a limit it crosses, a trigger it fires or trails."""
    if waiting_for_trigger(order):
        state = triggers.step(order.type, order.side, order.stop_price, order.trailing_delta, order.trail_extreme,
                              quote.last_price)
        return state.triggered or state.extreme != order.trail_extreme
    return crosses(order, quote)


def on_quote(order: OrderView, quote: Quote, spec: SymbolSpec, fees: Fees, house: House,
             free: Mapping[str, Decimal] | None = None) -> Outcome | None:
    """Apply a new quote to a resting order; None if it changes nothing.

    A working limit order the market crosses fills at its own price (a maker fill), at most what the
    book's best opposite level still offers per quote (`level_qty` on synthetic depth), so a large
    order passes through PARTIALLY_FILLED while the book refills. A waiting stop/take-profit order
    trails or triggers (see app/domain/triggers.py).
    """
    if order.status not in OPEN:
        return None
    if waiting_for_trigger(order):
        return _on_trigger_quote(order, quote, spec, fees, house, free or {})
    if not crosses(order, quote):
        return None
    assert order.quantity is not None and order.price is not None
    touch = next(book.levels(quote, spec, order.side), None)
    if touch is None or not book.at_or_better(order.side, touch.price, order.price):
        return None
    take = min(order.quantity - order.executed_qty, touch.qty)
    records, entries = _settle_all(order, spec, [Fill(order.price, take)], fees,
                                   user_locked(order.user_id), house, maker=True)
    state = replace(order, executed_qty=order.executed_qty + take,
                    cumm_quote_qty=order.cumm_quote_qty + records[0].quote_qty,
                    locked=order.locked - _locked_use(order, records[0]),
                    fill_count=order.fill_count + 1)
    status = OrderStatus.FILLED if state.executed_qty == order.quantity else OrderStatus.PARTIALLY_FILLED
    return _finish(state, spec, status, records, entries)


def _on_trigger_quote(order: OrderView, quote: Quote, spec: SymbolSpec, fees: Fees, house: House,
                      free: Mapping[str, Decimal]) -> Outcome | None:
    state = triggers.step(order.type, order.side, order.stop_price, order.trailing_delta, order.trail_extreme,
                          quote.last_price)
    if not state.triggered:
        if state.extreme == order.trail_extreme:
            return None
        return Outcome(order.status, order.executed_qty, order.cumm_quote_qty, order.locked,
                       touched_assets=frozenset(), trail_extreme=state.extreme)
    fired = replace(order, triggered=True, trail_extreme=state.extreme)
    if order.type in LIMIT_TYPES:
        return replace(_work_limit(fired, quote, spec, fees, house), triggered=True,
                       trail_extreme=state.extreme)
    return replace(_fire_market(fired, quote, spec, free, fees, house), triggered=True,
                   trail_extreme=state.extreme)


def _work_limit(order: OrderView, quote: Quote, spec: SymbolSpec, fees: Fees, house: House) -> Outcome:
    """A triggered *_LIMIT order: its lock stays, it takes what the book offers up to its price, then rests."""
    assert order.quantity is not None and order.price is not None
    fills = book.walk(book.levels(quote, spec, order.side), spec, order.side, qty=order.quantity, limit=order.price)
    records, entries = _settle_all(order, spec, fills, fees, user_locked(order.user_id), house)
    executed = book.total_qty(fills)
    state = replace(order, executed_qty=executed, cumm_quote_qty=book.total_quote(fills),
                    locked=order.locked - sum((_locked_use(order, r) for r in records), ZERO),
                    fill_count=order.fill_count + len(records))
    if executed == order.quantity:
        status = OrderStatus.FILLED
    else:
        status = OrderStatus.PARTIALLY_FILLED if fills else OrderStatus.NEW
    return _finish(state, spec, status, list(records), list(entries))


def _fire_market(order: OrderView, quote: Quote, spec: SymbolSpec, free: Mapping[str, Decimal], fees: Fees,
                 house: House) -> Outcome:
    """A triggered STOP_LOSS / TAKE_PROFIT: release its reservation and execute at market, whatever
    the price has gapped to; if even then the account cannot pay, it expires."""
    asset = spec.quote if order.side is Side.BUY else spec.base
    uid = order.user_id
    unlock = transfer("order", f"{order.id}/unlock", "unlock", asset, order.locked, user_locked(uid), user_free(uid))
    available = dict(free)
    available[asset] = available.get(asset, ZERO) + order.locked
    result = _place_market(order, quote, spec, available, fees, house)
    touched = frozenset({spec.base, spec.quote})
    if result.status is OrderStatus.REJECTED:
        return Outcome(OrderStatus.EXPIRED, ZERO, ZERO, ZERO, (), (unlock,), reason=f"triggered, but {result.reason}",
                       touched_assets=touched)
    return replace(result, entries=(unlock, *result.entries), locked=ZERO)


def cancel(order: OrderView, spec: SymbolSpec) -> Outcome:
    """Cancel an order that is not terminal; whatever it still locks is released exactly once."""
    return _finish(order, spec, OrderStatus.CANCELED, [], [])
