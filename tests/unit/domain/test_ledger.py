"""Double-entry postings: an entry balances per asset or does not exist; account names per shard."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.domain.ledger import (
    HOUSE_GENESIS,
    Entry,
    House,
    Posting,
    house_of_shard,
    is_user_account,
    net_changes,
    transfer,
    user_free,
    user_locked,
)

D = Decimal


def test_account_names() -> None:
    assert (user_free(7), user_locked(7)) == ("user:7:free", "user:7:locked")
    assert house_of_shard(3) == House("house:exchange:3", "house:fees:3")
    assert HOUSE_GENESIS == "house:genesis"
    assert [is_user_account(a) for a in ("user:7:free", "house:fees:0", "cfd:bridge:1", HOUSE_GENESIS)] == [
        True, False, False, False]


def test_transfer_is_two_legs_that_cancel() -> None:
    entry = transfer("order", "9/lock", "lock", "USDT", D("67.25000001"), user_free(1), user_locked(1))
    assert entry == Entry("order", "9/lock", "lock", (Posting("user:1:free", "USDT", D("-67.25000001"), "src"),
                                                      Posting("user:1:locked", "USDT", D("67.25000001"), "dst")))


def test_an_unbalanced_entry_cannot_be_made() -> None:
    with pytest.raises(ValueError, match=r"unbalanced entry order/1: \{'BTC': Decimal\('1E-8'\)\}"):
        Entry("order", "1", "trade", (Posting("a", "USDT", D("-10"), "pay"), Posting("b", "USDT", D("10"), "get"),
                                      Posting("a", "BTC", D("0.00000001"), "dust")))


def test_a_leg_name_is_used_once_per_entry() -> None:
    with pytest.raises(ValueError, match="duplicate legs in order/1"):
        Entry("order", "1", "trade", (Posting("a", "USDT", D("-1"), "x"), Posting("b", "USDT", D("1"), "x")))


def test_several_assets_each_balance_on_their_own() -> None:
    Entry("order", "2/fill/1", "trade", (
        Posting("user:1:locked", "USDT", D("-672.5"), "pay"), Posting("house:exchange:0", "USDT", D("672.5"), "in"),
        Posting("house:exchange:0", "BTC", D("-0.01"), "out"), Posting("user:1:free", "BTC", D("0.00999"), "recv"),
        Posting("house:fees:0", "BTC", D("0.00001"), "fee")))


def test_net_changes_sum_per_account_and_asset() -> None:
    entries = [transfer("t", "1", "deposit", "USDT", D("10000"), HOUSE_GENESIS, user_free(1)),
               transfer("t", "2", "lock", "USDT", D("0.00000001"), user_free(1), user_locked(1)),
               transfer("t", "3", "deposit", "BTC", D("1"), HOUSE_GENESIS, user_free(1))]
    assert net_changes(entries) == {
        ("house:genesis", "USDT"): D("-10000"), ("user:1:free", "USDT"): D("9999.99999999"),
        ("user:1:locked", "USDT"): D("0.00000001"), ("house:genesis", "BTC"): D("-1"), ("user:1:free", "BTC"): D("1")}
    assert net_changes([]) == {}
