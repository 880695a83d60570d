"""The order status machine and the one definition of "open" and "cancelable" (app/domain/orders.py)."""

from __future__ import annotations

import itertools

import pytest

from app.domain.orders import (
    CANCELABLE,
    OPEN,
    TERMINAL,
    IllegalTransition,
    OrderStatus,
    can_transition,
)

S = OrderStatus


def test_the_sets_partition_the_statuses() -> None:
    assert OPEN == {S.NEW, S.PARTIALLY_FILLED}
    assert CANCELABLE == {S.PENDING, S.NEW, S.PARTIALLY_FILLED, S.UNKNOWN}
    assert CANCELABLE | TERMINAL == set(OrderStatus) and not CANCELABLE & TERMINAL
    assert OPEN < CANCELABLE


@pytest.mark.parametrize(("old", "new"), list(itertools.product(OrderStatus, OrderStatus)))
def test_every_transition_follows_the_rules(old: OrderStatus, new: OrderStatus) -> None:
    """Terminal never changes; nothing returns to PENDING; an open order never goes back to
    NEW after a fill, nor to UNKNOWN or REJECTED (those are for orders not yet working)."""
    if old in TERMINAL or new is S.PENDING:
        expected = False
    elif old in (S.PENDING, S.UNKNOWN):
        expected = True
    elif old is S.NEW:
        expected = new in {S.NEW, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED}
    else:
        assert old is S.PARTIALLY_FILLED
        expected = new in {S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.EXPIRED}
    assert can_transition(old, new) is expected


def test_an_open_order_may_change_without_changing_status() -> None:
    """A trailing stop's extreme moving, or a *_LIMIT trigger firing, is NEW -> NEW."""
    assert can_transition(S.NEW, S.NEW)
    assert can_transition(S.PARTIALLY_FILLED, S.PARTIALLY_FILLED)


def test_an_illegal_transition_names_the_order_and_both_statuses() -> None:
    refused = IllegalTransition(7, S.FILLED, S.CANCELED)
    assert (refused.order_id, refused.old, refused.new) == (7, S.FILLED, S.CANCELED)
    assert "order 7" in str(refused) and "FILLED -> CANCELED" in str(refused)


def test_amend_refusal_allows_only_an_untouched_order_that_is_not_an_oco_leg_nor_market() -> None:
    from decimal import Decimal

    from app.domain.orders import OrderStatus, OrderType, amend_refusal
    assert amend_refusal(1, OrderStatus.NEW, OrderType.LIMIT, Decimal(0), None) is None
    assert amend_refusal(1, OrderStatus.PENDING, OrderType.LIMIT_MAKER, Decimal(0), None) is None
    for status, kind, executed, list_id, words in (
            (OrderStatus.FILLED, OrderType.LIMIT, Decimal(0), None, "already FILLED"),
            (OrderStatus.CANCELED, OrderType.LIMIT, Decimal(0), None, "already CANCELED"),
            (OrderStatus.NEW, OrderType.LIMIT_MAKER, Decimal(0), 7, "OCO list 7"),
            (OrderStatus.NEW, OrderType.MARKET, Decimal(0), None, "market order"),
            (OrderStatus.PARTIALLY_FILLED, OrderType.LIMIT, Decimal("0.001"), None, "partly filled (0.001)")):
        refusal = amend_refusal(1, status, kind, executed, list_id)
        assert refusal is not None and refusal.code == "ORDER_NOT_CANCELABLE" and words in refusal.message
