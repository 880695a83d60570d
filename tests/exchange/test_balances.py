"""Binance's padded balance strings become Decimals once, and the BALANCE_UPDATE the ledger's text."""

from __future__ import annotations

from decimal import Decimal

from app.exchange.translate import balances_of
from app.execution.user_events import balance_update
from app.persistence.ledger import balance_json


def test_binance_balances_are_parsed_and_formatted_like_the_ledger() -> None:
    rows = balances_of({"balances": [{"asset": "BNB", "free": "10.00000000", "locked": "0.00000000"},
                                     {"asset": "BTC", "free": "0.00000010", "locked": "100.00000000"}]})
    assert rows == [("BNB", Decimal(10), Decimal(0)), ("BTC", Decimal("0.0000001"), Decimal(100))]
    event = balance_update(7, "account:1", [balance_json(*r) for r in rows])
    assert event == {"user_id": 7, "kind": "BALANCE_UPDATE", "cause": "account:1", "data": {"balances": [
        {"asset": "BNB", "free": "10", "locked": "0"}, {"asset": "BTC", "free": "0.0000001", "locked": "100"}]}}
