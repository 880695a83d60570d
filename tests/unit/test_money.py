"""app/money.py: strict parsing, the rounding rule, canonical text and the thread-wide context."""

from __future__ import annotations

import decimal
import threading
from decimal import Decimal, FloatOperation

import pytest

from app.money import (
    ASSET_SCALE,
    ZERO,
    MoneyFormatError,
    credit,
    debit,
    floor_to_step,
    is_multiple,
    parse_amount,
    to_str,
    to_str_or_none,
)


@pytest.mark.parametrize("text", [
    "NaN", "sNaN", "Infinity", "-Infinity", "1e400", "1E2", "-1", "+1", "1_000", " 1.5", "1.5 ", "١٢٣", "１２",
    "0x10", "1,5", "", ".5", "5.", "01", "1.0000000000000000001", "1" * 41, "\u200b1",
])
def test_parse_amount_refuses_everything_but_plain_ascii_decimals(text: str) -> None:
    with pytest.raises(MoneyFormatError):
        parse_amount(text)


@pytest.mark.parametrize("text", ["0", "1", "0.5", "67250.01", "0.00000001", "12345678901234567890.123456789012345678"])
def test_parse_amount_keeps_every_digit(text: str) -> None:
    assert to_str(parse_amount(text)) == to_str(Decimal(text))


def test_float_mixing_is_trapped() -> None:
    with pytest.raises(FloatOperation):
        Decimal(0.1)  # noqa: RUF032 - the point of the test
    with pytest.raises(FloatOperation):
        assert Decimal("1") < 0.5


def test_debits_round_up_and_credits_round_down() -> None:
    assert debit(Decimal("1.000000001")) == Decimal("1.00000001")
    assert credit(Decimal("1.000000009")) == Decimal("1.00000000")
    assert debit(Decimal("2")) == credit(Decimal("2")) == Decimal("2")


def test_to_str_is_canonical() -> None:
    assert to_str(Decimal("1.2300")) == "1.23"
    assert to_str(Decimal("0E-8")) == "0"
    assert to_str(Decimal("1E+3")) == "1000"
    assert to_str(Decimal("-0")) == "0"


@pytest.mark.parametrize("value", [None, 15, b"1", ["1"]])
def test_parse_amount_refuses_what_is_not_text(value: object) -> None:
    with pytest.raises(MoneyFormatError):
        parse_amount(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(("value", "text"), [
    (Decimal("12345678901234567890.123456789012345678"), "12345678901234567890.123456789012345678"),
    (Decimal("-1.50"), "-1.5"),
    (Decimal("0.00000001"), "0.00000001"),
    (Decimal("1E-8"), "0.00000001"),
    (Decimal("100"), "100"),
    (Decimal("-0.000"), "0"),
])
def test_to_str_writes_plain_decimals(value: Decimal, text: str) -> None:
    assert to_str(value) == text


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity")])
def test_to_str_refuses_non_finite_amounts(value: Decimal) -> None:
    with pytest.raises(ValueError, match="non-finite"):
        to_str(value)


def test_to_str_or_none_keeps_null() -> None:
    assert to_str_or_none(None) is None
    assert to_str_or_none(Decimal("2.50")) == "2.5"


@pytest.mark.parametrize(("value", "rounded_up", "rounded_down"), [
    ("0.000000001", "0.00000001", "0"),
    ("0.123456785", "0.12345679", "0.12345678"),
    ("99999999999.999999999", "100000000000", "99999999999.99999999"),
    ("-0.000000001", "-0.00000001", "0"),  # away from zero and towards zero: a negative debit grows
])
def test_debit_and_credit_quantize_to_eight_places(value: str, rounded_up: str, rounded_down: str) -> None:
    up, down = debit(Decimal(value)), credit(Decimal(value))
    assert (to_str(up), to_str(down)) == (rounded_up, rounded_down)
    assert up.as_tuple().exponent == down.as_tuple().exponent == -8


@pytest.mark.parametrize(("value", "step", "floored"), [
    ("0.74345999", "0.00001", "0.74345"),
    ("1", "0.00001", "1.00000"),
    ("150001", "1", "150001"),
    ("0.09", "0.1", "0.0"),
    ("12.3456", "0.25", "12.25"),
])
def test_floor_to_step(value: str, step: str, floored: str) -> None:
    assert str(floor_to_step(Decimal(value), Decimal(step))) == floored


@pytest.mark.parametrize(("value", "step", "multiple"), [
    ("67250.01", "0.01", True),
    ("67250.015", "0.01", False),
    ("0.00001", "0.00001", True),
    ("5", "0", True),  # a zero step means the filter is off
    ("0", "0.1", True),
    ("0.30", "0.1", True),
    ("0.31", "0.1", False),
])
def test_is_multiple(value: str, step: str, multiple: bool) -> None:
    assert is_multiple(Decimal(value), Decimal(step)) is multiple


def test_every_new_thread_computes_with_the_same_context() -> None:
    seen: list[tuple[int, bool, bool]] = []

    def probe() -> None:
        ctx = decimal.getcontext()
        seen.append((ctx.prec, ctx.traps[FloatOperation], ctx.traps[decimal.InvalidOperation]))

    worker = threading.Thread(target=probe)
    worker.start()
    worker.join()
    assert seen == [(38, True, True)]
    assert ASSET_SCALE == Decimal("0.00000001") and ZERO == 0
