"""Exact money: one Decimal context for every thread, strict parsing, explicit rounding.

Rounding rule (the only places Troupe rounds):
- amounts debited from a user (costs, fees, locks) round UP to ASSET_SCALE;
- amounts credited to a user (sale proceeds) round DOWN to ASSET_SCALE;
- quantities derived from a quote amount round DOWN to the symbol's stepSize;
- user-supplied prices and quantities are never rounded: off-grid values are rejected.
The house account takes the other side of every rounded amount, so the ledger balances exactly.

Every amount leaves Troupe (REST, WebSocket, pages) as `to_str` text: plain decimal notation, no
exponent, no trailing zeros, never a JSON number. Browsers parse it strictly; `str(Decimal)` and
`normalize()` write "1E+1" or "0E-8", so they never format an amount.
"""

from __future__ import annotations

import decimal
import re
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_UP, Decimal

ASSET_SCALE = Decimal("0.00000001")  # 8 decimal places for every balance
ZERO = Decimal(0)

_TRAPS = [
    decimal.InvalidOperation,
    decimal.DivisionByZero,
    decimal.Overflow,
    decimal.FloatOperation,
]


def install_context() -> None:
    """Make every thread (actors included) compute with 38 digits and trap float mixing."""
    decimal.DefaultContext.prec = 38
    decimal.DefaultContext.rounding = ROUND_HALF_EVEN
    for trap in _TRAPS:
        decimal.DefaultContext.traps[trap] = True
    ctx = decimal.getcontext()
    ctx.prec = 38
    ctx.rounding = ROUND_HALF_EVEN
    for trap in _TRAPS:
        ctx.traps[trap] = True


install_context()

# Plain ASCII decimals only: no exponent, sign, underscore, whitespace or non-ASCII digits.
_PLAIN = re.compile(r"(0|[1-9][0-9]{0,19})(\.[0-9]{1,18})?")


class MoneyFormatError(ValueError):
    """A number is not a plain positive ASCII decimal within Troupe's bounds."""


def parse_amount(text: str) -> Decimal:
    """Parse a client-supplied amount; only text matching `_PLAIN` is accepted."""
    if not isinstance(text, str) or len(text) > 40 or not _PLAIN.fullmatch(text):
        raise MoneyFormatError("must be a plain decimal such as 0.5 or 100 (digits and one '.', at most 18 decimals)")
    return Decimal(text)


def to_str(value: Decimal) -> str:
    """Canonical text for an amount: no exponent, no trailing zeros, '0' for zero."""
    if not value.is_finite():
        raise ValueError("non-finite amount")
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text


def to_str_or_none(value: Decimal | None) -> str | None:
    """`to_str` for an amount that may be absent (a market order's price, an unset stop): null stays null."""
    return None if value is None else to_str(value)


def debit(value: Decimal) -> Decimal:
    """Round an amount taken from a user up to the asset scale."""
    return value.quantize(ASSET_SCALE, rounding=ROUND_UP)


def credit(value: Decimal) -> Decimal:
    """Round an amount given to a user down to the asset scale."""
    return value.quantize(ASSET_SCALE, rounding=ROUND_DOWN)


def floor_to_step(value: Decimal, step: Decimal) -> Decimal:
    """Largest multiple of `step` not above `value`."""
    return (value // step) * step



def is_multiple(value: Decimal, step: Decimal) -> bool:
    return step == 0 or value % step == 0
