"""The CFD desk's arithmetic: isolated-margin positions on USDT-margined linear contracts (pure).

Rounding rules (everything else is exact):
- quantity = margin × leverage / entry, rounded DOWN to 8 decimals (the margin never buys more);
- fees (taker, on notional, at open and at close) round UP to 8 decimals;
- the liquidation price is exact, then rounded to the symbol's tick TOWARD the entry price, so a
  liquidation can come a little early, never late;
- what a close pays the user rounds DOWN; the house account takes every residue.

Isolated margin: the position's wallet is its margin WB. Maintenance margin MM = Q × mark × MMR.
Liquidation when WB + UPNL(mark) ≤ MM, i.e. (Side = +1 long, −1 short)
    WB + Side·Q·(LP − EP) = Q·LP·MMR  ⇒  LP = (WB − Side·Q·EP) / (Q·MMR − Side·Q),
which for WB = Q·EP/L is EP·(1 − 1/L)/(1 − MMR) for a long and EP·(1 + 1/L)/(1 + MMR) for a short
(not the approximation EP·(1 − 1/L ± MMR), which liquidates shorts late).

An open position's mark and unrealized PnL are `mark_and_upnl`, the one place the API and the
WebSocket take them from. (The ticket's liquidation preview in `static/js/cfd.js` repeats the
formula above for the browser only; the engine's number is the one that counts.)
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from enum import StrEnum

from app.money import ASSET_SCALE, ZERO, debit

QTY_SCALE = ASSET_SCALE
MIN_LEVERAGE, MAX_LEVERAGE = Decimal(1), Decimal(100)
LEVERAGE_STEP = Decimal("0.1")


class Direction(StrEnum):
    LONG = "LONG"
    SHORT = "SHORT"

    @property
    def sign(self) -> int:
        return 1 if self is Direction.LONG else -1


DUPLICATE = "DUPLICATE_CLIENT_REQUEST_ID"


class CfdError(ValueError):
    """A request the desk refuses; the message says why (and `field` which input). `code` is one of
    INVALID NO_FUNDS NOT_OPEN NO_PRICE DUPLICATE_CLIENT_REQUEST_ID."""

    def __init__(self, message: str, field: str | None = None, code: str = "INVALID") -> None:
        super().__init__(message)
        self.message, self.field, self.code = message, field, code


@dataclass(frozen=True, slots=True)
class Position:
    id: int
    user_id: int
    symbol: str
    direction: Direction
    margin: Decimal  # the isolated wallet, WB
    leverage: Decimal
    entry: Decimal
    qty: Decimal
    liquidation: Decimal  # rounded to tick toward the entry (0: never, for a 1× long)
    stop_loss: Decimal | None = None
    take_profit: Decimal | None = None
    opened_at: int = 0  # ms, from the price that opened it


def exact_liquidation_price(direction: Direction, entry: Decimal, qty: Decimal, margin: Decimal,
                            mmr: Decimal) -> Decimal:
    side = direction.sign
    return (margin - side * qty * entry) / (qty * mmr - side * qty)


def liquidation_price(direction: Direction, entry: Decimal, qty: Decimal, margin: Decimal, mmr: Decimal,
                      tick: Decimal) -> Decimal:
    exact = exact_liquidation_price(direction, entry, qty, margin, mmr)
    if direction is Direction.LONG:
        if exact <= 0:
            return ZERO  # a fully funded long is never liquidated
        return (exact / tick).to_integral_value(ROUND_CEILING) * tick
    return (exact / tick).to_integral_value(ROUND_FLOOR) * tick


def upnl(direction: Direction, entry: Decimal, qty: Decimal, price: Decimal) -> Decimal:
    return direction.sign * (price - entry) * qty


def mark_and_upnl(direction: Direction, entry: Decimal, qty: Decimal, bid: Decimal,
                  ask: Decimal) -> tuple[Decimal, Decimal]:
    """An open position's mark (the price it would close at now: `close_price`) and its unrealized PnL
    there, to 8 decimals: the one definition the REST API and the WebSocket's live PnL both show."""
    price = close_price(direction, bid, ask)
    return price, upnl(direction, entry, qty, price).quantize(ASSET_SCALE)


def check_leverage(leverage: Decimal) -> None:
    if not MIN_LEVERAGE <= leverage <= MAX_LEVERAGE or leverage % LEVERAGE_STEP:
        raise CfdError("leverage must be between 1 and 100 in steps of 0.1 (e.g. 12.5)", "leverage")


def open_price(direction: Direction, bid: Decimal, ask: Decimal) -> Decimal:
    """Longs buy at the ask; shorts sell at the bid."""
    return ask if direction is Direction.LONG else bid


def close_price(direction: Direction, bid: Decimal, ask: Decimal) -> Decimal:
    """Longs sell at the bid; shorts buy back at the ask."""
    return bid if direction is Direction.LONG else ask


def quantity(margin: Decimal, leverage: Decimal, entry: Decimal) -> Decimal:
    return (margin * leverage / entry).quantize(QTY_SCALE, rounding=ROUND_DOWN)


def fee(qty: Decimal, price: Decimal, fee_rate: Decimal) -> Decimal:
    return debit(qty * price * fee_rate)


def check_stops(direction: Direction, price: Decimal, liquidation: Decimal, stop_loss: Decimal | None,
                take_profit: Decimal | None) -> None:
    """Long: LP < SL < price < TP. Short: TP < price < SL < LP (`price` is where it would close now)."""
    if direction is Direction.LONG:
        if stop_loss is not None and not liquidation < stop_loss < price:
            raise CfdError(f"a long's stop-loss must be above the liquidation price {liquidation} and below the "
                           f"current price {price}", "stopLossPrice")
        if take_profit is not None and not take_profit > price:
            raise CfdError(f"a long's take-profit must be above the current price {price}", "takeProfitPrice")
    else:
        if stop_loss is not None and not price < stop_loss < liquidation:
            raise CfdError(f"a short's stop-loss must be above the current price {price} and below the "
                           f"liquidation price {liquidation}", "stopLossPrice")
        if take_profit is not None and not take_profit < price:
            raise CfdError(f"a short's take-profit must be below the current price {price}", "takeProfitPrice")
