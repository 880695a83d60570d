"""Strict parsing and the rounding rule."""

from __future__ import annotations

from decimal import Decimal, FloatOperation

import pytest

from app.money import MoneyFormatError, credit, debit, parse_amount, to_str


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
