"""Binance's padded balance strings become Decimals once, and the BALANCE_UPDATE the ledger's text."""

from __future__ import annotations

import json
from decimal import Decimal

from app.events import Balance, BalancesChanged
from app.exchange.translate import balances_of
from app.execution.user_events import balance_update
from app.persistence.ledger import balance_json
from web.ws_render import event_frame


def test_binance_balances_are_parsed_and_formatted_like_the_ledger() -> None:
    rows = balances_of({"balances": [{"asset": "BNB", "free": "10.00000000", "locked": "0.00000000"},
                                     {"asset": "BTC", "free": "0.00000010", "locked": "100.00000000"}]})
    assert rows == [("BNB", Decimal(10), Decimal(0)), ("BTC", Decimal("0.0000001"), Decimal(100))]
    event = balance_update(7, "account:1", rows)
    assert event == BalancesChanged(7, "account:1", (Balance("BNB", Decimal(10), Decimal(0)),
                                                     Balance("BTC", Decimal("0.0000001"), Decimal(100))))
    expected = [{"asset": "BNB", "free": "10", "locked": "0"}, {"asset": "BTC", "free": "0.0000001", "locked": "100"}]
    assert json.loads(event_frame(event)) == {"type": "BALANCE_UPDATE", "balances": expected, "ts": None}
    assert [balance_json(*r) for r in rows] == expected  # the REST body's rows, the same text
